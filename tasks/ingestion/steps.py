"""Thin Prefect task around ingestion: load one source per task (the flow sets up the stores).

Transient failures (lost connection, locked database: tasks/retries.py) are retried with backoff;
contract violations fail at once, since the same export would break the same way again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE

from core.db import make_engine
from core.settings import get_settings
from tasks.ingestion.base import IngestionResult, Window
from tasks.ingestion.errors import is_transient
from tasks.ingestion.runner import ingest_source
from tasks.retries import RETRY_DELAYS, retry_if

retry_on_transient = retry_if(is_transient)


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
    cache_policy=NONE,
    task_run_name="ingest-{source}",
)
def ingest_source_task(
    source: str,
    source_dir: str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    database_url: str | None = None,
    on_chunk: Callable[[str, int], None] | None = None,
) -> IngestionResult:
    """Load one source's window (default: after its watermark) and publish its counts."""
    window = Window(window_start, window_end) if window_start or window_end else None
    engine = make_engine(database_url or get_settings().database_url)
    try:
        result = ingest_source(
            source, engine=engine, source_dir=Path(source_dir), window=window, on_chunk=on_chunk
        )
    except Exception as exc:
        _publish_artifact(source, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        engine.dispose()
    _publish_artifact(source, _counts(result))
    return result


def _counts(result: IngestionResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "window_start": str(result.window_start or ""),
        "window_end": str(result.window_end or ""),
        "watermark": str(result.watermark or ""),
        "seconds": round(result.seconds, 2),
        "waited_s": round(result.waited_s, 2),
        "run_id": result.run_id,
    }


def _publish_artifact(source: str, row: dict[str, Any]) -> None:
    """A one-row table artifact per source run, keyed so the UI shows each source's history."""
    key = f"ingest-{source}".replace("_", "-").lower()
    create_table_artifact(
        table=[{"source": source, **row}],
        key=key,
        description=f"Ingestion run of source {source}: rows read / loaded / quarantined.",
    )
