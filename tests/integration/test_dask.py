"""Scale-out: the retrain loop on a 2-worker local Dask cluster (ingest on DaskTaskRunner, training
with xgboost.dask) reaches the single-node model's holdout ROC-AUC within 0.01."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from mlflow import MlflowClient

from core.db import make_engine
from core.settings import get_settings
from flows.retrain import retrain
from simulator import SimConfig, simulate
from tasks.training import evaluate_holdout, feature_spec, fit_model, read_training_set
from tasks.training.dask_fit import dask_configured


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.task_prefixes)


@pytest.mark.system
def test_retrain_on_a_two_worker_dask_cluster_matches_single_node_quality(
    churn_home: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # big enough that the holdout AUC is not noise (800 customers: ~25 churners in the holdout)
    simulate(SimConfig(customers=2500, months=12, seed=5), churn_home / "sources")
    # workers start after CHURN_HOME is set: they read the same settings as this process
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        monkeypatch.setenv("CHURN_TASK_RUNNER", "dask")
        monkeypatch.setenv("CHURN_DASK_ADDRESS", cluster.scheduler_address)
        get_settings.cache_clear()
        assert dask_configured()
        summary = retrain(min_auc=0.6, reason="dask test")
        with Client(cluster) as client:
            prefixes = set(client.run_on_scheduler(_task_prefixes))
    # the sources' ingestion ran on the cluster (store set-up runs once, in the flow, before it)
    assert "ingest_source_task" in prefixes, prefixes
    # and so did training: the partitions of the fit, and xgboost.dask's per-worker train (`fn`)
    assert {"frompandas", "fn"} <= prefixes, prefixes
    assert summary["stages"]["ingest"]["state"] == "completed"
    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    run = MlflowClient(uri, registry_uri=uri).get_run(summary["run_id"])
    dask_auc = run.data.metrics["holdout_roc_auc"]

    engine = make_engine(settings.database_url)
    try:
        frame = read_training_set(engine=engine, horizon_days=settings.horizon_days)
    finally:
        engine.dispose()
    single = evaluate_holdout(fit_model(frame, spec=feature_spec()), frame)
    assert abs(dask_auc - single.metrics["roc_auc"]) <= 0.01, (dask_auc, single.metrics)
