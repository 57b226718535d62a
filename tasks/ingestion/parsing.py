"""Turn raw text lines into a DataFrame, keeping each row's original line for quarantine."""

from __future__ import annotations

import csv
import json
from typing import Any

import pandas as pd

from tasks.ingestion.base import Rejected
from tasks.ingestion.contracts import Reason


def parse_csv_lines(
    lines: list[str], header: list[str]
) -> tuple[pd.DataFrame, pd.Series, list[Rejected]]:
    """CSV lines → text frame (one column per header name), their lines, and ragged rows refused.

    Each physical line is one record (the exports never embed newlines in a field); a line with
    the wrong number of fields is refused with a ``field_count`` reason.
    """
    width = len(header)
    rows = list(csv.reader(lines))
    keep = [len(row) == width for row in rows]
    rejected = [
        Rejected(
            payload=line,
            reasons=[Reason(column=None, check="field_count", value=f"{len(row)} of {width}")],
        )
        for line, row, ok in zip(lines, rows, keep, strict=True)
        if not ok
    ]
    good = [row for row, ok in zip(rows, keep, strict=True) if ok]
    frame = pd.DataFrame(good, columns=header, dtype=object)
    payloads = pd.Series([line for line, ok in zip(lines, keep, strict=True) if ok], dtype=object)
    return frame, payloads, rejected


def parse_json_lines(lines: list[str]) -> tuple[pd.DataFrame, pd.Series, list[Rejected]]:
    """JSON lines → frame of the objects' fields, their lines, and lines that are not objects."""
    records: list[dict[str, Any]] = []
    kept: list[str] = []
    rejected: list[Rejected] = []
    for line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = Reason(column=None, check="json", value=f"{exc.msg} at char {exc.pos}")
            rejected.append(Rejected(payload=line, reasons=[reason]))
            continue
        if not isinstance(value, dict):
            reason = Reason(column=None, check="json_object", value=type(value).__name__)
            rejected.append(Rejected(payload=line, reasons=[reason]))
            continue
        records.append(value)
        kept.append(line)
    # dtype=object keeps JSON values as written (9 stays 9, not 9.0) for the quarantine reasons.
    frame = pd.DataFrame(records, dtype=object) if records else pd.DataFrame()
    return frame, pd.Series(kept, dtype=object), rejected
