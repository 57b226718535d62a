"""The ``ingestion_runs`` table: one row per source run, and each source's watermark."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select

from core.tables import ingestion_runs
from tasks.ingestion.base import IngestionResult


def last_watermark(engine: Engine, source: str) -> datetime | None:
    """How far ``source`` has been loaded: the largest watermark of its succeeded runs."""
    query = select(func.max(ingestion_runs.c.watermark)).where(
        ingestion_runs.c.source == source, ingestion_runs.c.status == "succeeded"
    )
    with engine.connect() as conn:
        value = conn.execute(query).scalar_one_or_none()
    return value if isinstance(value, datetime) or value is None else datetime.fromisoformat(value)


def record_run(conn: Connection, result: IngestionResult) -> None:
    """Write the run's row (inside the data transaction when the run succeeded)."""
    values = {k: v for k, v in asdict(result).items() if k in ingestion_runs.c}
    conn.execute(insert(ingestion_runs).values(**values))
