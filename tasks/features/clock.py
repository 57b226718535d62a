"""How far each source's data is complete, from the committed watermarks in ``ingestion_runs``.

A label at cutoff ``c`` with horizon ``h`` is only trustworthy once every source the features and
labels read is complete through ``c + h``: a lagging CRM export would make cancellations inside
the horizon invisible (label 0) while billing is already months ahead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from core.tables import ingestion_runs
from tasks.features.population import data_watermark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceClock:
    """The ingestion source that loads a warehouse table, and what its watermark means."""

    source: str
    # True: the watermark is the first day of the latest monthly file, complete through its end.
    monthly_files: bool


# Warehouse table read by features or labels -> the ingestion source that loads it.
TABLE_CLOCKS: dict[str, SourceClock] = {
    "customers": SourceClock("crm", monthly_files=True),
    "transactions": SourceClock("billing", monthly_files=False),
    "tickets": SourceClock("helpdesk", monthly_files=True),
}


@dataclass(frozen=True)
class DataReach:
    """Per source, the moment its data is complete through (None: never loaded)."""

    sources: dict[str, datetime | None]
    from_ingestion_runs: bool

    @property
    def lagging(self) -> tuple[str, datetime | None]:
        """The source complete through the earliest moment (a never-loaded one first)."""
        return min(self.sources.items(), key=lambda kv: (kv[1] is not None, kv[1] or datetime.min))

    @property
    def until(self) -> datetime | None:
        """Every source is complete through this moment (None: some source holds nothing)."""
        return self.lagging[1] if self.sources else None

    def describe(self) -> str:
        """E.g. ``crm 2024-05-01, billing 2024-08-31``."""
        return ", ".join(
            f"{name} {moment.isoformat() if moment else 'never loaded'}"
            for name, moment in sorted(self.sources.items())
        )


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)


def data_reach(*, engine: Engine, tables: tuple[str, ...] = tuple(TABLE_CLOCKS)) -> DataReach:
    """How far each source of ``tables`` is complete, from its succeeded ingestion runs.

    A warehouse with no ingestion run at all was not loaded by the ingest flow (a hand-built
    test warehouse, a restore): then the latest event time across tables stands for every source.
    """
    clocks = {TABLE_CLOCKS[t].source: TABLE_CLOCKS[t] for t in tables}
    query = (
        select(ingestion_runs.c.source, func.max(ingestion_runs.c.watermark))
        .where(ingestion_runs.c.status == "succeeded")
        .group_by(ingestion_runs.c.source)
    )
    with engine.connect() as conn:
        committed = {source: _as_datetime(value) for source, value in conn.execute(query)}
        any_run = conn.execute(select(func.count()).select_from(ingestion_runs)).scalar_one()
    if not any_run:
        latest = data_watermark(engine=engine)
        log.warning(
            "no ingestion run recorded: judging labels against the latest event time %s across "
            "sources (load the warehouse with the ingest flow for per-source watermarks)",
            latest,
        )
        return DataReach(dict.fromkeys(clocks, latest), from_ingestion_runs=False)
    reach: dict[str, datetime | None] = {}
    for source, clock in clocks.items():
        mark = committed.get(source)
        reach[source] = _next_month(mark) if mark is not None and clock.monthly_files else mark
    return DataReach(reach, from_ingestion_runs=True)


def _as_datetime(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
