"""The real data chain for model and flow tests: simulator → ingestion → SQLite warehouse."""

from __future__ import annotations

from pathlib import Path

from core.db import make_engine, upgrade_database


def build_warehouse(folder: Path, *, customers: int, months: int, seed: int) -> str:
    """Simulate sources into ``folder/sources``, ingest every source; return the warehouse URL."""
    from simulator import SimConfig, simulate
    from tasks.ingestion import ingest_source, list_sources

    sources = folder / "sources"
    simulate(SimConfig(customers=customers, months=months, seed=seed), sources)
    url = f"sqlite:///{folder / 'warehouse.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        for source in list_sources():
            ingest_source(source, engine=engine, source_dir=sources)
    finally:
        engine.dispose()
    return url
