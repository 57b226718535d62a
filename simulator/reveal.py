"""Reveal a simulated history up to a moment: what the source systems had exported by then.

A replay simulates its months once (``simulate``) into a history folder, then moves time forward
and calls ``reveal(history, exports, until)``: every CRM and helpdesk row whose own time
(``updated_at``) is at or before ``until`` appears in the month's export file under ``exports``,
and the billing database gains the events with ``created_at`` up to ``until``. A row whose time
cannot be read (an invalid row of the simulation) appears once its month has ended. A month file
is written only once it holds a data row (ingestion refuses an empty export). Revealing the same
moment again changes nothing; time only moves forward.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulator.engine import BILLING_DB

_MONTHLY = (("crm", "customers_*.csv"), ("helpdesk", "tickets_*.jsonl"))
_COLUMNS = "id, txn_ref, account_id, event_type, amount_cents, currency, created_at"


@dataclass(frozen=True)
class Revealed:
    """What one reveal added: rows of month files (rewritten) and billing events."""

    until: datetime
    file_rows: int
    billing_events: int


def reveal(history: Path, exports: Path, until: datetime) -> Revealed:
    """Make ``exports`` hold the history's exports as they stood at ``until`` (naive UTC)."""
    rows = 0
    for folder, pattern in _MONTHLY:
        (exports / folder).mkdir(parents=True, exist_ok=True)
        for path in sorted((history / folder).glob(pattern)):
            rows += _reveal_file(path, exports / folder / path.name, until)
    return Revealed(until, rows, _reveal_billing(history / BILLING_DB, exports / BILLING_DB, until))


def _month_of(path: Path) -> datetime:
    year, month = path.stem.rsplit("_", 1)[1].split("-")
    return datetime(int(year), int(month), 1)


def _month_end(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def _reveal_file(source: Path, target: Path, until: datetime) -> int:
    """Copy ``source``'s lines visible at ``until``; return how many data rows were written."""
    start = _month_of(source)
    if start > until:
        return 0
    ended = _month_end(start) <= until
    if ended and target.exists() and target.stat().st_size == source.stat().st_size:
        return 0  # complete already
    lines = source.read_bytes().splitlines(keepends=True)
    header, body = (lines[:1], lines[1:]) if source.suffix == ".csv" else ([], lines)
    visible = body if ended else [line for line in body if _visible(line, source.suffix, until)]
    if not visible:
        return 0
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(b"".join(header + visible))
    tmp.replace(target)
    return len(visible)


def _visible(line: bytes, suffix: str, until: datetime) -> bool:
    """Whether a row of an unfinished month is exported by ``until`` (unreadable: not yet)."""
    try:
        text = line.decode("utf-8")
        csv_row = suffix == ".csv"
        value = next(csv.reader([text]))[-1] if csv_row else json.loads(text)["updated_at"]
        return datetime.fromisoformat(value) <= until
    except (ValueError, KeyError, TypeError, StopIteration, IndexError):
        return False


def _reveal_billing(source: Path, target: Path, until: datetime) -> int:
    """Append the billing events up to ``until``, compared as the billing source compares them
    (as text), so that an event is read by ingestion exactly when it is revealed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
        with sqlite3.connect(target) as conn:
            conn.execute("DELETE FROM billing_events")
        conn.close()
    bound = until.strftime("%Y-%m-%d %H:%M:%S")
    conn = sqlite3.connect(target)
    try:
        conn.execute("ATTACH DATABASE ? AS history", (str(source),))
        with conn:
            added = conn.execute(
                f"INSERT INTO billing_events ({_COLUMNS}) SELECT {_COLUMNS} FROM "
                "history.billing_events WHERE created_at <= ? AND id NOT IN (SELECT id FROM "
                "main.billing_events) ORDER BY id",
                (bound,),
            ).rowcount
    finally:
        conn.close()
    return int(added)
