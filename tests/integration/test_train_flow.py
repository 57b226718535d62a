"""The train and rollback flows end to end on a real Prefect server, a simulated warehouse and a
real MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.logging.handlers import APILogWorker

from core.settings import get_settings
from flows.rollback import rollback
from flows.train import train
from tasks.registry import CHAMPION, champion_history
from tests.model.pipeline import build_warehouse


@pytest.fixture(scope="module", autouse=True)
def flush_prefect_logs(prefect_server: str) -> Iterator[None]:
    """Send queued flow-run logs while the session's server still runs (not at interpreter exit,
    when the server is gone and the log worker would retry against a dead socket)."""
    yield
    APILogWorker.drain_all(timeout=30)


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_warehouse(tmp_path_factory.mktemp("flow-data"), customers=600, months=8, seed=3)


def _artifact_markdown(key: str, flow_run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    (mine,) = [a for a in artifacts if a.flow_run_id == flow_run_id]
    return str(mine.data)


def test_train_and_rollback_flows_end_to_end(
    prefect_server: str,
    small_warehouse: str,
    churn_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", small_warehouse)
    get_settings.cache_clear()
    # the default gate (no absolute floor: the logistic baseline on the same split); a row
    # budget under the train cutoffs' rows: negatives are sampled and weighted, for both models
    params = {"tolerance": 0.05, "max_cutoffs": 5, "max_train_rows": 500}

    state = train(**params, return_state=True)
    first = state.result()
    assert first["model_version"] == "1"
    assert first["decision"] == "promoted"
    assert first["bento"] and first["bento_build_s"] > 0  # the build's measured wall time
    assert 0.5 <= first["metrics"]["roc_auc"] <= 1.0
    markdown = _artifact_markdown("train-summary", state.state_details.flow_run_id)
    assert "churn-model v1: **promoted**" in markdown
    assert f"{first['metrics']['roc_auc']:.4f}" in markdown
    rate = first["train_negative_rate"]
    assert 0 < rate < 1
    assert f"train negatives sampled at {rate:.3f}" in markdown
    logged = MlflowClient(get_settings().mlflow_tracking_uri).get_run(first["run_id"]).data.params
    assert float(logged["train_negative_rate"]) == pytest.approx(rate, abs=1e-6)
    assert int(logged["train_negatives_dropped"]) > 0
    # the baseline's AUC: in the summary, the reason, the run's metrics and the version's tags
    auc, baseline = first["metrics"]["roc_auc"], first["baseline_roc_auc"]
    assert first["reason"].startswith(f"first model: roc_auc {auc:.4f} >= baseline {baseline:.4f}")
    assert f"logistic baseline on the same holdout: {baseline:.4f}" in markdown
    run = MlflowClient(get_settings().mlflow_tracking_uri).get_run(first["run_id"])
    assert run.data.metrics["baseline_roc_auc"] == pytest.approx(baseline)
    assert run.data.metrics["baseline_fit_s"] == pytest.approx(first["baseline_fit_s"])
    version = MlflowClient(get_settings().mlflow_tracking_uri).get_model_version("churn-model", "1")
    assert float(version.tags["baseline.roc_auc"]) == pytest.approx(baseline, abs=1e-6)

    # same data and seed: the rerun ties the champion, is registered and leaves the alias alone
    second = train(**params)
    assert (second["model_version"], second["decision"]) == ("2", "rejected")
    assert second["reason"].startswith("not better on the same data"), second["reason"]
    assert second["previous_champion"] == "1"
    assert second["previous_champion_auc"] == pytest.approx(first["metrics"]["roc_auc"])
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    assert str(client.get_model_version_by_alias("churn-model", CHAMPION).version) == "1"

    # had v1 been trained a month earlier, the same model is newer and within tolerance
    tags = client.get_model_version("churn-model", "1").tags
    through = datetime.fromisoformat(tags["data.trained_through"])
    earlier = (through - timedelta(days=31)).isoformat()
    client.set_model_version_tag("churn-model", "1", "data.trained_through", earlier)
    third = train(**params)
    assert (third["model_version"], third["decision"]) == ("3", "promoted"), third["reason"]
    assert third["reason"].startswith("newer data")
    assert str(client.get_model_version_by_alias("churn-model", CHAMPION).version) == "3"
    state = rollback(reason="flow test", return_state=True)
    assert state.result() == {"from_version": "3", "to_version": "1", "reason": "flow test"}
    assert str(client.get_model_version_by_alias("churn-model", CHAMPION).version) == "1"
    assert [r.rolled_back_at is not None for r in champion_history()] == [False, True]
    assert "v3 → v1" in _artifact_markdown("rollback", state.state_details.flow_run_id)


def test_train_flow_rejects_cutoffs_whose_horizon_has_not_elapsed(
    prefect_server: str,
    small_warehouse: str,
    churn_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import datetime

    monkeypatch.setenv("CHURN_DATABASE_URL", small_warehouse)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match=r"30-day label horizon ends after source '\w+''s commit"):
        train(cutoffs=[datetime(2025, 1, 1)], horizon_days=30)
