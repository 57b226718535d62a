"""Every model's one way from a training set to a gated version: fit (out of time, or
cross-validated where the set is a single snapshot), evaluate, log, register, gate."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.names import DEFAULT_MIN_BASELINE_GAIN, DEFAULT_MIN_GAIN
from core.settings import get_settings
from models.preprocessing import FeatureSpec
from tasks.registry.gate import GateDecision
from tasks.registry.promotion import gate_version
from tasks.registry.store import register_version
from tasks.training import (
    CrossValidatedModel,
    Evaluation,
    LoggedRun,
    Trained,
    evaluate_holdout,
    fit_crossval,
    fit_model,
    record_training_run,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A registered, gated version: the model, its holdout evaluation, its run, the decision."""

    trained: Trained
    evaluation: Evaluation
    logged: LoggedRun
    decision: GateDecision


def fit_candidate(
    frame: pd.DataFrame, *, spec: FeatureSpec, horizon_days: int, seed: int
) -> tuple[Trained, Evaluation]:
    """A frame of one ``as_of`` (a single snapshot) has no out-of-time split: stratified CV and
    an id-hash holdout; otherwise earlier cutoffs train, the latest elapsed one is the holdout,
    ``horizon_days`` apart (the purge gap)."""
    if frame["as_of"].nunique() == 1:
        model = fit_crossval(frame, spec=spec, seed=seed)
        return model, model.evaluation
    trained = fit_model(frame, spec=spec, horizon_days=horizon_days, seed=seed)
    return trained, evaluate_holdout(trained, frame)


def release_candidate(
    trained: Trained,
    evaluation: Evaluation,
    frame: pd.DataFrame,
    *,
    model_name: str,
    horizon_days: int,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    min_baseline_gain: float = DEFAULT_MIN_BASELINE_GAIN,
    min_auc: float | None = None,
    tags: Mapping[str, str] | None = None,
    dicts: Mapping[str, Any] | None = None,
) -> Candidate:
    """Log the model to MLflow (with ``tags`` and ``dicts``, see ``record_training_run``),
    register it as a version of ``model_name`` and gate it."""
    logged = record_training_run(
        trained,
        evaluation,
        frame,
        horizon_days=horizon_days,
        model_name=model_name,
        tags=tags,
        dicts=dicts,
    )
    digest = trained.spec.definitions_hash
    baseline = evaluation.baseline
    version = register_version(
        logged,
        metrics=evaluation.metrics,
        definitions_hash=digest,
        name=model_name,
        baseline_auc=None if baseline is None else baseline.roc_auc,
    )
    decision = gate_version(
        version=version,
        candidate_auc=evaluation.metrics["roc_auc"],
        holdout=evaluation.reference,
        definitions_hash=digest,
        tolerance=tolerance,
        min_gain=min_gain,
        min_baseline_gain=min_baseline_gain,
        min_auc=min_auc,
        name=model_name,
    )
    log.info("%s v%s: %s (%s)", model_name, version, decision.decision, decision.reason)
    return Candidate(trained=trained, evaluation=evaluation, logged=logged, decision=decision)


def train_candidate(
    frame: pd.DataFrame,
    *,
    spec: FeatureSpec,
    model_name: str,
    horizon_days: int,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    min_baseline_gain: float = DEFAULT_MIN_BASELINE_GAIN,
    min_auc: float | None = None,
    seed: int | None = None,
    tags: Mapping[str, str] | None = None,
    dicts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit, evaluate, log, register and gate ``model_name``; a JSON-ready summary."""
    seed = get_settings().seed if seed is None else seed
    trained, evaluation = fit_candidate(frame, spec=spec, horizon_days=horizon_days, seed=seed)
    done = release_candidate(
        trained,
        evaluation,
        frame,
        model_name=model_name,
        horizon_days=horizon_days,
        tolerance=tolerance,
        min_gain=min_gain,
        min_baseline_gain=min_baseline_gain,
        min_auc=min_auc,
        tags=tags,
        dicts=dicts,
    )
    decision = done.decision
    # out of time: the cutoff the holdout rows are as of (None: cross-validated, id-hash holdout)
    holdout = None if isinstance(trained, CrossValidatedModel) else trained.split.holdout
    return {
        "model_name": model_name,
        "version": decision.version,
        "decision": decision.decision,
        "gate_situation": decision.situation,
        "reason": decision.reason,
        "holdout_roc_auc": evaluation.metrics["roc_auc"],
        "baseline_roc_auc": decision.baseline_auc,
        "cv_roc_auc": trained.cv_roc_auc if isinstance(trained, CrossValidatedModel) else None,
        "holdout_cutoff": holdout,
        "horizon_days": horizon_days,
        "valid_roc_auc": trained.fitted.valid_auc,
        "run_id": done.logged.run_id,
        "definitions_hash": spec.definitions_hash,
        "training_rows": len(frame),
    }
