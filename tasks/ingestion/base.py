"""The small interface every source implements, and the records passed between its steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd
from sqlalchemy import Connection

from tasks.ingestion.contracts import Contract, Reason


@dataclass(frozen=True)
class Window:
    """Event-time window ``(start, end]``: after ``start``, up to and including ``end``.

    Open-ended on a side that is None. The exclusive start lets one run's watermark be the next
    run's start without reading anything twice.
    """

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` lies in ``(start, end]``."""
        after_start = self.start is None or moment > self.start
        return after_start and (self.end is None or moment <= self.end)


@dataclass
class Rejected:
    """A row refused before contract checks (unparseable line): its raw text and reasons."""

    payload: str
    reasons: list[Reason]


@dataclass
class RawChunk:
    """A bounded slice of one source as read: raw values plus what is needed to quarantine them.

    ``payloads`` holds the original text of each row of ``frame`` (CSV/JSONL line); when None the
    payload is the row's values as JSON (database sources). ``watermark`` is how far the chunk
    reached in event time (file period, or largest created_at).
    """

    frame: pd.DataFrame
    origin: str
    payloads: pd.Series | None = None
    rejected: list[Rejected] = field(default_factory=list)
    watermark: datetime | None = None

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.rejected)


@dataclass
class Quarantined:
    """Rows refused by the contract, ready for the quarantine table."""

    payloads: list[str]
    reasons: list[list[Reason]]
    natural_keys: list[str | None]

    def __len__(self) -> int:
        return len(self.payloads)


@dataclass
class CheckedChunk:
    """A chunk split by its contract: rows in warehouse layout, and the quarantined rest."""

    valid: pd.DataFrame
    quarantined: Quarantined
    watermark: datetime | None


@dataclass
class RunContext:
    """What publish needs to know about the current run (id, dialect, staging tables made)."""

    run_id: str
    source: str
    dialect: str
    stages: set[str] = field(default_factory=set)


@runtime_checkable
class Source(Protocol):
    """One source system: a name, a contract, and fetch → validate → publish steps."""

    name: str

    @property
    def contract(self) -> Contract:
        """The columns, types and checks the source's rows must meet."""
        ...

    def check_schema(self, source_dir: Path, window: Window) -> None:
        """Raise SchemaMismatchError / SourceFormatError before anything is written."""
        ...

    def fetch(self, source_dir: Path, window: Window, *, chunk_rows: int) -> Iterator[RawChunk]:
        """Yield the window's raw rows in chunks of at most ``chunk_rows``."""
        ...

    def validate(self, chunk: RawChunk) -> CheckedChunk:
        """Split a chunk into warehouse rows and quarantined rows with their reasons."""
        ...

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        """Upsert valid rows on their natural key inside the run's transaction."""
        ...


@dataclass(frozen=True)
class IngestionResult:
    """Outcome of one source run, as recorded in ``ingestion_runs``."""

    run_id: str
    source: str
    window_start: datetime | None
    window_end: datetime | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    watermark: datetime | None
    status: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    waited_s: float = 0.0  # time spent waiting for another run of this source (not stored)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
