"""Train, log, register and gate a declared source's model ``churn-<name>``.

snapshot: ``tasks.owndata.training`` (stratified holdout + CV). events: the built-in out-of-time
path (``tasks.training.fit_model``, ``evaluate_holdout``, ``record_training_run``) on the
source's training frame. Both end in the built-in registry and gate (``tasks.registry``), under
the model's own name.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import pandas as pd

from core.names import SOURCE_DTYPES_ARTIFACT, TAG_SOURCE, TAG_SOURCE_KIND
from core.settings import get_settings
from tasks.owndata.features import SourceFeatures
from tasks.owndata.pipeline import horizon_of
from tasks.owndata.spec import SourceSpec
from tasks.owndata.tracking import log_snapshot_run
from tasks.owndata.training import train_snapshot
from tasks.registry import DEFAULT_MIN_GAIN, gate_version, register_version, registry_client
from tasks.training import (
    Evaluation,
    LoggedRun,
    evaluate_holdout,
    fit_model,
    record_training_run,
)

log = logging.getLogger(__name__)


def _fit_and_log(
    spec: SourceSpec, frame: pd.DataFrame, features: SourceFeatures, *, seed: int
) -> tuple[Evaluation, LoggedRun, float | None, float]:
    """(evaluation, logged run, cv_roc_auc or None, validation auc)."""
    feature_spec = features.feature_spec()
    cv_auc: float | None = None
    if spec.kind == "snapshot":
        model = train_snapshot(frame, spec=feature_spec, seed=seed)
        logged = log_snapshot_run(model, frame, spec=spec)
        evaluation, cv_auc, valid_auc = model.evaluation, model.cv_roc_auc, model.fitted.valid_auc
    else:
        # the source's horizon, not the setting: it is the purge gap between train, validation
        # and holdout cutoffs, and the labels' window in the run's tags
        horizon = horizon_of(spec)
        trained = fit_model(frame, spec=feature_spec, horizon_days=horizon, seed=seed)
        evaluation = evaluate_holdout(trained, frame)
        logged = record_training_run(
            trained, evaluation, frame, horizon_days=horizon, model_name=spec.model_name
        )
        valid_auc = trained.fitted.valid_auc
    with mlflow.start_run(run_id=logged.run_id):
        mlflow.set_tags({TAG_SOURCE: spec.name, TAG_SOURCE_KIND: spec.kind})
        # what serving builds the source's feature record from (tasks.deploy)
        mlflow.log_dict(features.dtypes, SOURCE_DTYPES_ARTIFACT)
    return evaluation, logged, cv_auc, valid_auc


def train_spec(
    spec: SourceSpec,
    frame: pd.DataFrame,
    features: SourceFeatures,
    *,
    min_auc: float,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    seed: int | None = None,
) -> dict[str, Any]:
    """Fit, evaluate, log to MLflow, register and gate ``churn-<name>``; a JSON-ready summary."""
    seed = get_settings().seed if seed is None else seed
    digest = features.definitions_hash
    evaluation, logged, cv_auc, valid_auc = _fit_and_log(spec, frame, features, seed=seed)
    version = register_version(
        logged, metrics=evaluation.metrics, definitions_hash=digest, name=spec.model_name
    )
    registry_client().set_model_version_tag(spec.model_name, version, TAG_SOURCE, spec.name)
    decision = gate_version(
        version=version,
        candidate_auc=evaluation.metrics["roc_auc"],
        holdout=evaluation.reference,
        definitions_hash=digest,
        min_auc=min_auc,
        tolerance=tolerance,
        min_gain=min_gain,
        name=spec.model_name,
    )
    log.info("%s v%s: %s (%s)", spec.model_name, version, decision.decision, decision.reason)
    return {
        "model_name": spec.model_name,
        "version": version,
        "decision": decision.decision,
        "gate_situation": decision.situation,
        "reason": decision.reason,
        "holdout_roc_auc": evaluation.metrics["roc_auc"],
        "cv_roc_auc": cv_auc,
        "valid_roc_auc": valid_auc,
        "run_id": logged.run_id,
        "definitions_hash": digest,
        "training_rows": len(frame),
    }
