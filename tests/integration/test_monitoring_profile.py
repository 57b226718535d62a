"""Training logs the drift profile next to the reference holdout; monitoring loads it from the
champion instead of recomputing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from prefect.utilities.collections import visit_collection

from core.names import CHAMPION
from core.settings import get_settings
from monitoring.drift import detect_drift
from tasks.monitoring.reference import (
    PROFILE_ARTIFACT,
    load_champion_reference,
    log_promoted_reference,
)
from tasks.registry import register_version
from tests.model.synthetic import SPEC, make_training_set, train_and_log


def test_training_logs_profile_and_monitoring_uses_it(
    sqlite_registry: Path, tmp_path: Path
) -> None:
    _, evaluation, logged = train_and_log(make_training_set(rows_per_cutoff=250))
    uri = get_settings().mlflow_tracking_uri
    client = MlflowClient(uri, uri)
    path = client.download_artifacts(logged.run_id, PROFILE_ARTIFACT, str(tmp_path))
    profile = json.loads(Path(path).read_text(encoding="utf-8"))
    reference = evaluation.reference
    assert profile["rows"] == len(reference)
    assert profile["columns"]["score"]["count"] == reference["score"].notna().sum()
    assert {"score", *SPEC.names} <= set(profile["columns"])

    version = register_version(logged, metrics=evaluation.metrics, definitions_hash="h")
    client.set_registered_model_alias(get_settings().model_name, CHAMPION, version)
    champion = load_champion_reference(get_settings().model_name)
    assert (champion.version, champion.profile_source) == (version, "logged")
    assert champion.profile == profile
    assert len(champion.frame) == len(reference)
    # every monitoring task takes the reference, and Prefect walks a task's parameters for
    # futures: it must not walk each stored value (~2 s per task at 40 columns × 5,000 values)
    assert _visited(champion) < 50 < _visited(profile)


def _visited(value: Any) -> int:
    """How many objects Prefect's parameter walk visits in ``value``."""
    seen: list[Any] = []
    visit_collection(value, visit_fn=seen.append, return_data=False)
    return len(seen)


def test_promoted_reference_replaces_the_holdout_as_the_drift_reference(
    sqlite_registry: Path,
) -> None:
    """A version promoted after a shift is measured against the population it was promoted on,
    not against its holdout (the latest cutoff with elapsed labels, from before the shift): a
    population like the promotion's is not drift, though it is against the holdout."""
    _, evaluation, logged = train_and_log(make_training_set(rows_per_cutoff=250))
    name = get_settings().model_name
    version = register_version(logged, metrics=evaluation.metrics, definitions_hash="h")
    MlflowClient(get_settings().mlflow_tracking_uri).set_registered_model_alias(
        name, CHAMPION, version
    )
    shifted = evaluation.reference.assign(
        monthly_charges=lambda f: f["monthly_charges"] * 1.4,
        tenure_days=lambda f: f["tenure_days"] + 400,
    )
    features = [n for n in SPEC.names if n not in SPEC.categories]
    dtypes = {n: "float64" for n in features} | {n: "category" for n in SPEC.categories}
    holdout = load_champion_reference(name, dtypes=dtypes)
    assert holdout.profile_source == "logged"
    assert detect_drift(shifted, holdout.profile, columns=features).share >= 0.5

    log_promoted_reference(name, version, shifted, dtypes=dtypes)
    promoted = load_champion_reference(name, dtypes=dtypes)
    assert (promoted.version, promoted.profile_source) == (version, "promoted")
    assert len(promoted.frame) == len(shifted)
    assert detect_drift(shifted, promoted.profile, columns=features).drifted == []
