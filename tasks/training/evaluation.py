"""Out-of-time evaluation: ranking, calibration and business metrics on the holdout cutoff.

Metrics are computed from labels and scores and returned; a holdout that cannot support a metric
(one class, NaN scores, too few rows) raises instead of producing a made-up number.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models.estimator import predict_scores
from models.preprocessing import FeatureSpec, to_model_matrix
from models.signature import SCORE_COLUMN
from tasks.training.baseline import BaselineScore, score_baseline
from tasks.training.cutoffs import rows_at
from tasks.training.fit import TrainedModel, partition_xy

log = logging.getLogger(__name__)

TOP_FRACTION = 0.10


def check_holdout(y_true: np.ndarray, scores: np.ndarray, *, where: str = "holdout") -> None:
    """Raise a clear error when labels/scores cannot be evaluated."""
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(
            f"{where}: labels {y_true.shape} and scores {scores.shape} must be 1-D of one length"
        )
    if len(y_true) == 0:
        raise ValueError(
            f"{where}: no rows to evaluate; does the holdout cutoff have active customers?"
        )
    classes = set(np.unique(y_true).tolist())
    if not classes <= {0, 1}:
        raise ValueError(f"{where}: labels must be 0/1, found {sorted(classes)}")
    if len(classes) < 2:
        raise ValueError(
            f"{where}: all {len(y_true)} labels are {classes.pop()}; ROC-AUC and lift need churners"
            " and non-churners — pick a holdout cutoff whose horizon holds cancellations"
        )
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ValueError(f"{where}: scores must be finite probabilities in [0, 1]")


def top_fraction_stats(
    y_true: np.ndarray, scores: np.ndarray, *, fraction: float = TOP_FRACTION
) -> dict[str, float]:
    """Precision, capture rate (recall) and lift among the ``fraction`` riskiest customers."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    n_top = max(1, math.ceil(fraction * len(scores)))
    # stable sort on -score: equal scores keep input order, so the cut is reproducible
    top = np.argsort(-scores, kind="stable")[:n_top]
    hits = float(y_true[top].sum())
    base_rate = float(y_true.mean())
    precision = hits / n_top
    return {
        "precision": precision,
        "capture_rate": hits / float(y_true.sum()),
        "lift": precision / base_rate,
    }


def compute_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """All holdout metrics: roc_auc, pr_auc, log_loss, brier, top-10% precision/capture/lift."""
    y = np.asarray(y_true, dtype="int64")
    s = np.asarray(scores, dtype="float64")
    check_holdout(y, s)
    top = top_fraction_stats(y, s)
    pct = round(TOP_FRACTION * 100)
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "log_loss": float(log_loss(y, s, labels=[0, 1])),
        "brier": float(brier_score_loss(y, s)),
        f"precision_at_{pct}pct": top["precision"],
        f"capture_rate_at_{pct}pct": top["capture_rate"],
        f"lift_at_{pct}pct": top["lift"],
        "base_rate": float(y.mean()),
        "n_rows": float(len(y)),
    }


@dataclass(frozen=True)
class Evaluation:
    """Holdout metrics, the scored holdout (the drift reference profile), gain importance and
    the logistic baseline's score on the same holdout (None: not fitted)."""

    metrics: dict[str, float]
    reference: pd.DataFrame
    importance: dict[str, float]
    baseline: BaselineScore | None = None


def compute_importance(booster: xgb.Booster, *, spec: FeatureSpec) -> dict[str, float]:
    """Total gain per feature; a feature the trees never split on has gain 0."""
    gain = booster.get_score(importance_type="total_gain")
    values: dict[str, float] = {}
    for name in spec.names:
        value = gain.get(name, 0.0)
        values[name] = float(value if isinstance(value, float | int) else sum(value))
    return values


def score_holdout(booster: xgb.Booster, holdout: pd.DataFrame, *, spec: FeatureSpec) -> Evaluation:
    """Score holdout rows (features + ``label``) and compute every metric on them."""
    if "label" not in holdout.columns:
        raise ValueError("holdout frame has no 'label' column; build it with build_training_set")
    scores = predict_scores(booster, to_model_matrix(holdout, spec=spec))
    metrics = compute_metrics(holdout["label"].to_numpy(), scores)
    reference = holdout.reset_index(drop=True).assign(**{SCORE_COLUMN: scores})
    # the training set's attrs (its sample record, purged cutoffs as datetimes) are not part of
    # the reference: pandas would write them into the parquet artifact, and fail on datetimes
    reference.attrs = {}
    return Evaluation(
        metrics=metrics, reference=reference, importance=compute_importance(booster, spec=spec)
    )


def evaluate_holdout(trained: TrainedModel, frame: pd.DataFrame) -> Evaluation:
    """Out-of-time evaluation of ``trained`` on its holdout cutoff's rows of ``frame``, with the
    baseline fitted on its train cutoffs' rows (their weights too) and scored on the same rows."""
    holdout = rows_at(frame, [trained.split.holdout])
    evaluation = score_holdout(trained.fitted.booster, holdout, spec=trained.spec)
    x_train, y_train, weight = partition_xy(frame, trained.split.train, trained.spec)
    x_holdout, y_holdout, _ = partition_xy(frame, (trained.split.holdout,), trained.spec)
    baseline = score_baseline(
        (x_train, y_train), (x_holdout, y_holdout), spec=trained.spec, weight=weight
    )
    evaluation = replace(evaluation, baseline=baseline)
    log.info(
        "holdout %s: %s",
        trained.split.holdout.date(),
        ", ".join(f"{k}={v:.4f}" for k, v in evaluation.metrics.items()),
    )
    return evaluation
