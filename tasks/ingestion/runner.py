"""The generic runner: fetch → validate → publish → quarantine for one source, as one transaction.

The data, the quarantine rows and the succeeded ``ingestion_runs`` row (with its watermark) commit
together, so a crash or error leaves the warehouse as it was; a failed run records its row
afterwards in a transaction of its own. Runs of the same source on the same warehouse take turns
(an advisory lock on PostgreSQL, a lock file next to a SQLite warehouse): the later one waits,
then starts from the watermark the earlier one committed, so nothing is loaded or counted twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from uuid import uuid4

from sqlalchemy import Connection, Engine

from core.locks import Held, database_lock
from core.names import utc_now
from core.settings import get_settings
from tasks.ingestion.base import CheckedChunk, IngestionResult, RunContext, Source, Window
from tasks.ingestion.bulk import drop_stages
from tasks.ingestion.pipeline import WriteBehind, fewer_gc_passes
from tasks.ingestion.quarantine import write_quarantine
from tasks.ingestion.registry import get_source
from tasks.ingestion.runs import last_watermark, record_run

log = logging.getLogger(__name__)
# How long a run waits for another run of the same source before giving up (a transient error).
LOCK_TIMEOUT_S = 3600.0

# SQLite has one writer: sources running concurrently in one process queue here instead of
# failing on "database is locked" while another source's run holds the write transaction.
_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


@dataclass
class _Tally:
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    watermark: datetime | None = None

    def add(self, read: int, loaded: int, quarantined: int, watermark: datetime | None) -> None:
        self.read += read
        self.loaded += loaded
        self.quarantined += quarantined
        if watermark is not None and (self.watermark is None or watermark > self.watermark):
            self.watermark = watermark


def ingest_source(
    source: str | Source,
    *,
    engine: Engine,
    source_dir: Path,
    window: Window | None = None,
    chunk_rows: int | None = None,
    on_chunk: Callable[[str, int], None] | None = None,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> IngestionResult:
    """Load one source's window (default: everything after its last watermark) into the warehouse.

    Raises the run's error after recording a failed run; ``on_chunk(source, rows_read)`` reports
    progress after every chunk. Waits (up to ``lock_timeout_s``) for another run of this source.
    """
    src = get_source(source) if isinstance(source, str) else source
    run_id, started, clock = str(uuid4()), utc_now(), time.perf_counter()
    tally = _Tally()
    effective = window
    waited = 0.0
    try:
        with _source_lock(engine, src.name, lock_timeout_s) as held, _single_writer(engine):
            waited = held.waited_s
            if waited >= 0.5:
                log.info(
                    "%s: waited %.1f s for another run of this source on the warehouse to finish",
                    src.name,
                    waited,
                )
            effective = window or Window(start=last_watermark(engine, src.name))
            src.check_schema(source_dir, effective)
            with engine.begin() as conn:
                run = RunContext(run_id=run_id, source=src.name, dialect=conn.dialect.name)
                rows = chunk_rows or get_settings().chunk_rows
                _load(src, conn, run, source_dir, effective, rows, tally, on_chunk)
                result = _result(run_id, src.name, effective, tally, started, "succeeded")
                record_run(conn, result)
        result = replace(result, waited_s=waited)
    except Exception as exc:
        _record_failure(engine, run_id, src.name, effective or window, tally, started, exc)
        raise
    log.info(
        "%s: read %d rows, loaded %d, quarantined %d in %.1f s (window %s, watermark %s)",
        src.name,
        result.rows_read,
        result.rows_loaded,
        result.rows_quarantined,
        time.perf_counter() - clock,
        _describe(effective),
        result.watermark,
    )
    return result


def _load(
    src: Source,
    conn: Connection,
    run: RunContext,
    source_dir: Path,
    window: Window,
    chunk_rows: int,
    tally: _Tally,
    on_chunk: Callable[[str, int], None] | None,
) -> None:
    """Fetch, check and write the window chunk by chunk; at most two chunks live at once."""
    # A PostgreSQL write waits on the server; a source whose SQLite writes are whole statements
    # (no Python per row) frees the GIL for them too: both overlap with the next chunk's checks.
    overlap = conn.dialect.name == "postgresql" or bool(getattr(src, "writes_release_gil", False))
    with fewer_gc_passes(), WriteBehind(overlap=overlap, name=f"write-{src.name}") as writer:
        for raw in src.fetch(source_dir, window, chunk_rows=chunk_rows):
            checked = src.validate(raw)
            writer.submit(partial(_write_chunk, src, conn, run, checked))
            tally.add(
                raw.rows_read, len(checked.valid), len(checked.quarantined), checked.watermark
            )
            if on_chunk is not None:
                on_chunk(src.name, tally.read)
    finish = getattr(src, "finish", None)  # optional: work after the last chunk's write
    if finish is not None:
        finish(conn, run)
    drop_stages(conn, run)


def _write_chunk(src: Source, conn: Connection, run: RunContext, checked: CheckedChunk) -> None:
    src.publish(checked.valid, conn, run)
    write_quarantine(conn, run, checked.quarantined)


def _describe(window: Window | None) -> str:
    if window is None:
        return "(unresolved)"
    return f"({window.start or '-inf'}, {window.end or '+inf'}]"


def _result(
    run_id: str,
    source: str,
    window: Window | None,
    tally: _Tally,
    started: datetime,
    status: str,
    error: str | None = None,
) -> IngestionResult:
    start = window.start if window else None
    watermark = tally.watermark
    if start is not None and (watermark is None or watermark < start):
        watermark = start
    succeeded = status == "succeeded"
    return IngestionResult(
        run_id=run_id,
        source=source,
        window_start=start,
        window_end=window.end if window else None,
        rows_read=tally.read if succeeded else 0,
        rows_loaded=tally.loaded if succeeded else 0,
        rows_quarantined=tally.quarantined if succeeded else 0,
        watermark=watermark if succeeded else None,
        status=status,
        started_at=started,
        finished_at=utc_now(),
        error=error,
    )


def _record_failure(
    engine: Engine,
    run_id: str,
    source: str,
    window: Window | None,
    tally: _Tally,
    started: datetime,
    exc: Exception,
) -> None:
    """Record the failed run after the data transaction rolled back (its counts are zero)."""
    message = str(exc).removeprefix(f"{source}: ")  # our errors name the source already
    error = (
        f"{type(exc).__name__}: {message} (after reading {tally.read} rows; "
        "the run was rolled back, nothing was written)"
    )
    log.error("%s: run %s failed: %s", source, run_id, error)
    failed = _result(run_id, source, window, tally, started, "failed", error=error)
    try:
        with engine.begin() as conn:
            record_run(conn, failed)
    except Exception as record_exc:
        log.error("%s: could not record failed run %s: %s", source, run_id, record_exc)
        exc.add_note(f"recording the failed run in ingestion_runs also failed: {record_exc}")


def _source_lock(engine: Engine, source: str, timeout_s: float) -> AbstractContextManager[Held]:
    url = engine.url.render_as_string(hide_password=False)
    what = f"{source}: ingest"
    return database_lock(url, name=f"ingest-{source}", timeout_s=timeout_s, what=what)


@contextmanager
def _single_writer(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITERS_GUARD:
        lock = _SQLITE_WRITERS.setdefault(str(engine.url), threading.Lock())
    with lock:
        yield
