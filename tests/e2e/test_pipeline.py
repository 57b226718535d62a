"""The demo chain end to end on a small simulation: sources → warehouse → features → champion.

Real everything: simulator files, SQLite warehouse, MLflow SQLite store, one Prefect server.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from core.db import make_engine
from core.settings import get_settings
from core.tables import customers, ingestion_runs, online_features, tickets, transactions
from flows.build_features import build_features
from flows.ingest import ingest
from flows.train import train
from simulator import SimConfig, simulate


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (customers, transactions, tickets, online_features)
        }
    engine.dispose()
    return out


@pytest.mark.system
def test_pipeline_runs_from_simulated_sources_to_a_gated_champion(
    churn_home: object, prefect_server: str
) -> None:
    settings = get_settings()
    simulate(SimConfig(customers=800, months=9, seed=11), settings.sources_dir)

    ingest()
    first = _counts(settings.database_url)
    assert first["customers"] > 800 and first["transactions"] > 10_000 and first["tickets"] > 100

    ingest()  # a rerun over the same sources changes nothing
    again = _counts(settings.database_url)
    assert again == first

    build_features()
    assert _counts(settings.database_url)["online_features"] > 500

    summary = train(min_auc=0.6)
    client = MlflowClient(settings.mlflow_tracking_uri)
    champion = client.get_model_version_by_alias(settings.model_name, "champion")
    assert str(champion.version) == str(summary["model_version"])
    run = client.get_run(champion.run_id)
    assert 0.6 <= run.data.metrics["holdout_roc_auc"] <= 1.0

    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        statuses = conn.execute(select(ingestion_runs.c.status).distinct()).scalars().all()
    engine.dispose()
    assert set(statuses) == {"succeeded"}
