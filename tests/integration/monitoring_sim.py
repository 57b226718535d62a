"""Simulated drift scenario and its no-drift control, shared by the monitoring tests: the same
seed simulated with and without the price shock, reference features before it, current after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from core.db import make_engine, upgrade_database
from simulator import SimConfig, simulate
from tasks.features.retrieval import get_historical_features
from tasks.ingestion import ingest_source, list_sources
from tasks.labels import build_labels

DRIFT_MONTH = 6  # June 2024: the price shock
REFERENCE_AT = datetime(2024, 5, 1)
CURRENT_AT = datetime(2024, 7, 1)
# the shock raises prices: these must be among the drifted features
PRICE_FEATURES = {"monthly_charges", "price_change_pct_30d", "price_change_90d", "last_charge"}


@dataclass(frozen=True)
class Scenario:
    reference: pd.DataFrame
    current: pd.DataFrame
    url: str


def simulate_scenario(folder: Path, *, drift: bool) -> Scenario:
    """Simulate, ingest into a fresh SQLite warehouse, and read features at both cutoffs."""
    config = SimConfig(customers=1500, months=8, seed=7, drift_month=DRIFT_MONTH if drift else None)
    simulate(config, folder / "sources")
    url = f"sqlite:///{folder / 'warehouse.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    for name in list_sources():
        ingest_source(name, engine=engine, source_dir=folder / "sources")

    def features(at: datetime) -> pd.DataFrame:
        entities = build_labels([at], 30, engine=engine)
        return get_historical_features(entities, engine=engine)

    scenario = Scenario(features(REFERENCE_AT), features(CURRENT_AT), url)
    engine.dispose()
    return scenario
