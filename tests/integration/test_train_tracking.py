import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from core.names import (
    REFERENCE_ARTIFACT,
    TAG_SOURCE,
    TAG_TRAINED_THROUGH,
    TAG_TRAINING_IDS,
    TRAINING_IDS_ARTIFACT,
)
from core.settings import get_settings
from tasks.registry import register_version
from tasks.training import fit_crossval, record_training_run, rows_at
from tasks.training.lineage import frame_digest
from tasks.training.tracking import git_commit
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set, train_and_log


@pytest.fixture(params=["sqlite", "postgres"])
def tracking_store(
    request: pytest.FixtureRequest, churn_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The MLflow tracking store: SQLite under CHURN_HOME, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        factory: Callable[[], str] = request.getfixturevalue("new_postgres_database")
        monkeypatch.setenv("CHURN_MLFLOW_TRACKING_URI", factory())
    else:
        monkeypatch.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield get_settings().mlflow_tracking_uri
    get_settings.cache_clear()


def test_log_training_run_records_lineage_metrics_plots_model(
    tracking_store: str, churn_home: Path
) -> None:
    frame = make_training_set(rows_per_cutoff=250)
    trained, evaluation, logged = train_and_log(frame)
    client = MlflowClient(tracking_store)
    run = client.get_run(logged.run_id)

    # metrics are the evaluation's, not recomputed or defaulted
    for key, value in evaluation.metrics.items():
        assert run.data.metrics[f"holdout_{key}"] == pytest.approx(value)
    assert run.data.metrics["valid_roc_auc"] == pytest.approx(trained.fitted.valid_auc)
    assert run.data.params["max_depth"] == str(trained.fitted.params.max_depth)
    assert run.data.params["rows_holdout"] == "250"

    tags = run.data.tags
    assert tags["features.definitions_hash"] == SPEC.definitions_hash
    assert tags["cutoffs.holdout"] == "2024-06-01"
    assert tags["cutoffs.validation"] == "2024-05-01"
    assert tags["cutoffs.train"].split(",") == [c.date().isoformat() for c in CUTOFFS[:4]]
    assert tags["data.window_start"] == "2024-01-01"
    assert tags["data.window_end"] == "2024-07-01"  # holdout cutoff + 30-day horizon
    assert tags["git.commit"] == git_commit() and len(tags["git.commit"]) == 40

    inputs = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation", "holdout"}
    assert inputs["holdout"].digest == frame_digest(rows_at(frame, [CUTOFFS[-1]]))
    assert inputs["training"].digest == frame_digest(rows_at(frame, CUTOFFS[:4]))

    plots = {a.path for a in client.list_artifacts(logged.run_id, "plots")}
    assert {"plots/roc.png", "plots/pr.png", "plots/calibration.png"} <= plots
    assert "plots/feature_importance.png" in plots

    local = Path(client.download_artifacts(logged.run_id, REFERENCE_ARTIFACT, str(churn_home)))
    reference = pd.read_parquet(local)
    pd.testing.assert_frame_equal(reference, evaluation.reference, check_dtype=False)

    experiment = client.get_experiment(logged.experiment_id)
    artifact_root = (churn_home / "mlartifacts").resolve()
    assert experiment.artifact_location == artifact_root.as_uri()
    assert list(artifact_root.rglob("holdout.parquet"))

    model = mlflow.pyfunc.load_model(logged.model_uri)
    scores = model.predict(evaluation.reference)["score"].to_numpy()
    np.testing.assert_allclose(scores, evaluation.reference["score"].to_numpy(), rtol=1e-6)
    assert model.metadata.signature.inputs.input_names() == list(SPEC.names)


def test_logged_model_loads_in_a_fresh_process(churn_home: Path) -> None:
    frame = make_training_set(rows_per_cutoff=150)
    _, evaluation, logged = train_and_log(frame)
    rows = evaluation.reference.head(5)
    code = (
        "import json, sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({get_settings().mlflow_tracking_uri!r})\n"
        f"model = mlflow.pyfunc.load_model({logged.model_uri!r})\n"
        "frame = pd.read_json(sys.stdin, orient='records')\n"
        "print(json.dumps(model.predict(frame)['score'].tolist()))\n"
    )
    payload = rows[list(SPEC.names)].to_json(orient="records")
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"},
    )
    scores = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(scores, rows["score"].to_numpy(), rtol=1e-6)


def test_record_training_run_of_a_snapshot_records_folds_and_training_ids(
    churn_home: Path,
) -> None:
    frame = make_training_set(rows_per_cutoff=300, cutoffs=(datetime(2024, 6, 30),))
    model = fit_crossval(frame, spec=SPEC, seed=1)
    logged = record_training_run(
        model,
        model.evaluation,
        frame,
        horizon_days=30,
        model_name="churn-snap",
        tags={TAG_SOURCE: "snap"},
        dicts={"source/dtypes.json": {"plan": "category"}},
    )
    uri = get_settings().mlflow_tracking_uri
    client = MlflowClient(uri)
    run = client.get_run(logged.run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags[TAG_TRAINED_THROUGH] == "2024-06-30T00:00:00"  # the snapshot: labels reach it
    assert tags["data.window_end"] == "2024-06-30"
    assert tags[TAG_TRAINING_IDS] == TRAINING_IDS_ARTIFACT and tags[TAG_SOURCE] == "snap"
    assert tags["evaluation"] == "stratified holdout + stratified 5-fold CV"
    assert (params["folds"], params["cv_trees"]) == ("5", ",".join(map(str, model.cv_trees)))
    assert params["rows_holdout"] == str(len(model.evaluation.reference)) == "60"
    folds = client.get_metric_history(logged.run_id, "cv_fold_roc_auc")
    assert [m.value for m in sorted(folds, key=lambda m: m.step)] == pytest.approx(model.cv_aucs)
    assert metrics["cv_roc_auc"] == pytest.approx(model.cv_roc_auc)
    assert metrics["holdout_roc_auc"] == pytest.approx(model.evaluation.metrics["roc_auc"])
    assert not run.inputs.dataset_inputs  # no cutoffs to describe

    ids = pd.read_parquet(client.download_artifacts(logged.run_id, TRAINING_IDS_ARTIFACT))
    held = set(model.evaluation.reference["customer_id"])
    assert set(ids["customer_id"]) == set(frame["customer_id"]) - held and len(ids) == 240
    dtypes = client.download_artifacts(logged.run_id, "source/dtypes.json")
    assert json.loads(Path(dtypes).read_text()) == {"plan": "category"}

    version = register_version(logged, metrics=model.evaluation.metrics, definitions_hash="h")
    version_tags = client.get_model_version(get_settings().model_name, version).tags
    assert version_tags[TAG_TRAINING_IDS] == TRAINING_IDS_ARTIFACT
    assert version_tags[TAG_SOURCE] == "snap"  # what serving builds the feature record from
