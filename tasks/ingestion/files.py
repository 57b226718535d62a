"""Monthly export files: which ones a window covers, and reading them in bounded line chunks."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import TextIO

from tasks.ingestion.base import Window
from tasks.ingestion.errors import SourceFormatError, SourceNotFoundError

_PERIOD = re.compile(r"_(\d{4})-(\d{2})\.[A-Za-z0-9]+$")


def require_folder(folder: Path, *, source: str) -> None:
    """Fail clearly when a source's folder is absent (wrong CHURN_HOME or nothing simulated)."""
    if not folder.is_dir():
        raise SourceNotFoundError(
            f"{source}: folder {folder} does not exist; run `python -m simulator --out DIR` "
            "or pass the folder holding the exports (source_dir / CHURN_HOME)"
        )


def file_period(path: Path, *, source: str) -> datetime:
    """First day of the month a ``<name>_YYYY-MM.<ext>`` file covers."""
    match = _PERIOD.search(path.name)
    if not match:
        raise SourceFormatError(
            f"{source}: {path} is not named <name>_YYYY-MM.<ext>; rename it or move it away"
        )
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise SourceFormatError(f"{source}: {path} names month {month:02d}, which does not exist")
    return datetime(year, month, 1)


def period_files(
    folder: Path, pattern: str, window: Window, *, source: str
) -> list[tuple[datetime, Path]]:
    """Files under ``folder`` matching ``pattern`` whose month lies in ``window``, oldest first."""
    require_folder(folder, source=source)
    found = [(file_period(p, source=source), p) for p in folder.glob(pattern) if p.is_file()]
    return sorted((period, p) for period, p in found if window.contains(period))


def read_csv_header(path: Path, *, source: str) -> list[str]:
    """The column names of a CSV file's first line (BOM and surrounding blanks removed)."""
    with _open_text(path, source=source) as handle:
        try:
            first = handle.readline()
        except UnicodeDecodeError as exc:
            raise _not_text(path, source, exc) from exc
    if not first.strip():
        raise SourceFormatError(f"{source}: {path} is empty; expected a CSV header line")
    return [name.strip() for name in next(csv.reader([first]))]


def iter_line_chunks(
    path: Path, chunk_rows: int, *, source: str, skip_header: bool
) -> Iterator[list[str]]:
    """Non-blank lines of a text file (newline stripped), ``chunk_rows`` at a time."""
    with _open_text(path, source=source) as handle:
        if skip_header:
            handle.readline()
        while True:
            try:
                lines = list(islice(handle, chunk_rows))
            except UnicodeDecodeError as exc:
                raise _not_text(path, source, exc) from exc
            if not lines:
                return
            kept = [line.rstrip("\r\n") for line in lines if line.strip()]
            if kept:
                yield kept


def _open_text(path: Path, *, source: str) -> TextIO:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{source}: file {path} vanished while reading") from exc


def _not_text(path: Path, source: str, exc: UnicodeDecodeError) -> SourceFormatError:
    return SourceFormatError(
        f"{source}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
        "export it as UTF-8 CSV/JSONL"
    )
