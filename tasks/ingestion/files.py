"""Monthly export files: which ones a window covers, and reading them in bounded line chunks.

Files are read as bytes and decoded line by line, so a line that is not UTF-8 is quarantined with
its line number and the file offset of its first bad byte instead of failing the whole source.
A file without a single data row is refused before anything is written (``EmptySourceFileError``):
loading it as "0 rows" would move the watermark past a month whose export may still be coming.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from tasks.ingestion.base import Rejected, Window
from tasks.ingestion.contracts import Reason
from tasks.ingestion.errors import EmptySourceFileError, SourceFormatError, SourceNotFoundError

_PERIOD = re.compile(r"_(\d{4})-(\d{2})\.[A-Za-z0-9]+$")
_BOM = b"\xef\xbb\xbf"


@dataclass
class LineChunk:
    """Decoded non-blank lines of a file (newline stripped), and the lines that did not decode."""

    lines: list[str]
    undecodable: list[Rejected] = field(default_factory=list)


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
    with _open(path, source=source) as handle:
        first = handle.readline()
    start = len(_BOM) if first.startswith(_BOM) else 0
    try:
        text = first[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            f"{source}: the header of {path} is not UTF-8 text ({exc.reason} at byte "
            f"{start + exc.start}); export it as UTF-8 CSV"
        ) from exc
    if not text.strip():
        raise EmptySourceFileError(path, source=source, what="no CSV header line")
    return [name.strip() for name in next(csv.reader([text]))]


def require_rows(path: Path, *, source: str, skip_header: bool) -> None:
    """Raise EmptySourceFileError unless ``path`` holds at least one non-blank data line."""
    with _open(path, source=source) as handle:
        if skip_header:
            handle.readline()
        if any(line.strip(b" \t\r\n" + _BOM) for line in handle):
            return
    what = "a header but no data rows" if skip_header else "no data lines"
    raise EmptySourceFileError(path, source=source, what=what)


def iter_line_chunks(
    path: Path, chunk_rows: int, *, source: str, skip_header: bool
) -> Iterator[LineChunk]:
    """Non-blank lines of a text file, ``chunk_rows`` physical lines at a time."""
    with _open(path, source=source) as handle:
        offset, number = 0, 0
        if skip_header:
            header = handle.readline()
            offset, number = len(header), 1
        while raw := list(islice(handle, chunk_rows)):
            chunk = LineChunk(lines=[])
            for line in raw:
                number += 1
                start = len(_BOM) if offset == 0 and line.startswith(_BOM) else 0
                try:
                    text = line[start:].decode("utf-8")
                except UnicodeDecodeError as exc:
                    chunk.undecodable.append(_undecodable(line, number, offset + start, exc))
                else:
                    if text.strip():
                        chunk.lines.append(text.rstrip("\r\n"))
                offset += len(line)
            yield chunk


def _undecodable(line: bytes, number: int, offset: int, exc: UnicodeDecodeError) -> Rejected:
    """A line that is not UTF-8: its text with the bad bytes escaped, where exactly it broke."""
    bad = line[exc.start : exc.end].hex(" ")
    reason = Reason(
        column=None,
        check="encoding",
        value=f"line {number}, byte {offset + exc.start}: {exc.reason} (0x{bad})",
    )
    payload = line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    return Rejected(payload=payload, reasons=[reason])


def _open(path: Path, *, source: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError as exc:
        raise SourceNotFoundError(f"{source}: file {path} vanished while reading") from exc
