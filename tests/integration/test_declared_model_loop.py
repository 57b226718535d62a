"""A declared source's model through the whole loop by its name alone: ``monitor``,
``score_batch`` and ``retrain`` with ``model_name=churn-shop`` on an event log declared in a spec.
Real Prefect server, MLflow store, warehouse and Evidently workspace; one champion trained by the
``table`` flow for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from core.db import make_engine
from core.settings import get_settings
from core.tables import churn_scores, monitoring_metrics, prediction_log, source_schemas
from tests.declared.files import EVENTS_SPEC, NOT_THE_BASELINE, write_events, write_spec

MODEL = "churn-shop"


@dataclass(frozen=True)
class Shop:
    folder: Path
    spec: Path
    trained: dict[str, Any]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> Iterator[Shop]:
    """CHURN_HOME (for the whole module) holding churn-shop's champion, trained by `table`."""
    from flows.declare import declare

    folder = tmp_path_factory.mktemp("declared-loop")
    write_events(folder, customers=250)
    spec = write_spec(folder, EVENTS_SPEC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(folder / "home"))
        mp.delenv("CHURN_DATABASE_URL", raising=False)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        trained = declare(spec=str(spec), min_auc=0.6, min_baseline_gain=NOT_THE_BASELINE)
        assert trained["decision"] == "promoted", trained
        yield Shop(folder, spec, trained)
    get_settings.cache_clear()


def _frame(query: Any) -> pd.DataFrame:
    engine = make_engine(get_settings().database_url)
    frame = pd.read_sql(query, engine)
    engine.dispose()
    return frame


def test_ingest_records_the_spec_file(shop: Shop) -> None:
    row = _frame(select(source_schemas).where(source_schemas.c.source == "shop")).iloc[0]
    assert row["spec_path"] == str(shop.spec.resolve())
    document = json.loads(row["spec"]) if isinstance(row["spec"], str) else row["spec"]
    assert document["name"] == "shop" and document["event_type"] == "event"


def test_a_declared_champion_is_measured_against_the_population_it_was_promoted_on(
    shop: Shop,
) -> None:
    from mlflow import MlflowClient

    from tasks.monitoring.reference import PROMOTED_REFERENCE, load_champion_reference

    client = MlflowClient(get_settings().mlflow_tracking_uri)
    run_id = client.get_model_version(MODEL, shop.trained["version"]).run_id
    logged = {a.path for a in client.list_artifacts(run_id, "reference")}
    assert PROMOTED_REFERENCE in logged
    reference = load_champion_reference(MODEL)
    assert reference.profile_source == "promoted"
    assert len(reference.frame) == shop.trained["online_rows"]


def test_monitor_flow_monitors_the_declared_model(shop: Shop) -> None:
    from evidently.ui.workspace import Workspace

    from flows.monitor import monitor

    out = monitor(model_name=MODEL, backfill_cutoffs=2, k_runs=1, cooldown_days=0.0)
    assert out["model_name"] == MODEL and out["model_version"] == shop.trained["version"]
    # nothing served: the population's online features, scored by the champion in-process
    assert out["observed"] == {"source": "online_features", "rows": shop.trained["online_rows"]}
    # backfilled predictions at elapsed cutoffs are labelled from the source's subscriptions
    assert out["performance_unavailable"] is None
    assert 0.5 < out["performance"]["performance.roc_auc"] <= 1
    assert set(out["reports"]) == {"drift", "quality", "performance"}
    backfilled = _frame(select(prediction_log.c.model_name, prediction_log.c.request_id))
    assert len(backfilled) and set(backfilled["model_name"]) == {MODEL}
    # figures labelled with the model, over the source's features and ingestion runs only
    metrics = _frame(select(monitoring_metrics).where(monitoring_metrics.c.model_name == MODEL))
    assert len(metrics) == out["figures"] and set(metrics["monitor_run_id"]) == {out["run_id"]}
    labels = [json.loads(x) if isinstance(x, str) else (x or {}) for x in metrics["labels"]]
    features = {lab["feature"] for lab in labels if "feature" in lab}
    assert features and all(
        f.startswith(("login_", "ticket_", "payment_", "days_", "active_", "events_", "account_"))
        for f in features
    )
    sources = {lab["source"] for lab in labels if "source" in lab}
    assert sources <= {"declared:shop", "online_features"}
    prom = Path(out["prometheus"])
    assert prom.name == f"churn_monitoring-{MODEL}.prom"
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    assert families["churn_drift_share"].samples[0].labels["model"] == MODEL
    # its own Evidently project, named by the model
    workspace = Workspace(str(get_settings().evidently_home))
    project = next(p for p in workspace.list_projects() if p.name == MODEL)
    assert len(workspace.list_runs(project.id)) == 3  # a snapshot per report


def test_score_flow_scores_the_declared_population(shop: Shop) -> None:
    from flows.score_batch import score_batch

    first = score_batch(model_name=MODEL)
    again = score_batch(model_name=MODEL)  # a rerun replaces its batch
    assert first["model"] == MODEL and first["rows"] == again["rows"] == shop.trained["online_rows"]
    scores = _frame(select(churn_scores))
    assert len(scores) == first["rows"] and set(scores["model_name"]) == {MODEL}
    assert set(scores["model_version"]) == {shop.trained["version"]}
    assert scores["probability"].between(0, 1).all() and scores["probability"].nunique() > 1
    assert scores["reasons"].map(len).eq(3).all()


def test_an_event_models_bento_refuses_what_its_features_cannot_be(shop: Shop) -> None:
    """The bento of a declared source's version carries its features' valid ranges, rebuilt from
    the contract its run kept: a negative "days since" is a 400 naming the field."""
    import bentoml
    from pydantic import ValidationError

    from bentos.baked import _bounds
    from bentos.schemas import feature_record_model
    from tasks.deploy.model_import import import_model

    imported = import_model(shop.trained["version"], model_name=MODEL)
    meta = bentoml.models.get(imported.tag).info.metadata
    bounds = _bounds(meta["feature_bounds"])
    assert bounds is not None and set(bounds) == set(meta["feature_dtypes"])
    assert bounds["days_since_last_login"] == (0.0, None)
    assert bounds["active_days_30d"] == (0.0, None)
    record = feature_record_model(meta["feature_dtypes"], {}, name="ShopRecord", bounds=bounds)
    unknown = dict.fromkeys(meta["feature_dtypes"])
    record.model_validate(unknown)  # every value missing is a valid record
    with pytest.raises(ValidationError, match="days_since_last_login"):
        record.model_validate({**unknown, "days_since_last_login": -1.0})


@pytest.mark.system
def test_retrain_flow_reingests_the_spec_trains_deploys_and_monitors(shop: Shop) -> None:
    from flows.retrain import retrain

    write_events(shop.folder, customers=250, seed=12)  # the files have changed since
    # new files, new definitions: the first-model test applies, which this test is not about
    out = retrain(
        model_name=MODEL,
        reason="test",
        min_auc=0.6,
        tolerance=0.5,
        min_baseline_gain=NOT_THE_BASELINE,
    )
    assert out["model_name"] == MODEL and out["model_version"] == "2"
    assert out["decision"] == "promoted", out
    assert list(out["stages"]) == ["declare", "deploy", "monitor"]
    assert out["bento_tag"].startswith(f"churn-service:{MODEL}-v2-")
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        runs = conn.execute(
            select(func.count())
            .select_from(monitoring_metrics)
            .where(
                monitoring_metrics.c.model_name == MODEL,
                monitoring_metrics.c.metric == "drift.detected",
            )
        ).scalar_one()
    engine.dispose()
    assert runs >= 1


def test_retrain_of_a_model_whose_spec_has_gone_fails_in_one_line(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.retrain import main

    moved = shop.spec.with_name("moved.yaml")
    shop.spec.rename(moved)
    try:
        assert main(["--model-name", MODEL]) == 1
    finally:
        moved.rename(shop.spec)
    err = capsys.readouterr().err.strip().splitlines()
    expected = f"{MODEL}'s spec {shop.spec.resolve()} no longer exists; run make declare SPEC=..."
    assert expected in err[0], err
