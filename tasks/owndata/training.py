"""Snapshot training: a seeded stratified holdout, stratified 5-fold CV on the rest, one final fit.

A snapshot has one moment, so an out-of-time split does not exist; rows are split at random but
stratified by the label. Each fit early-stops on a stratified slice of its own training rows, so
neither a CV fold nor the holdout ever steers the trees that are scored on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from models.estimator import BoosterParams, FittedModel, fit_booster, predict_scores
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.owndata.spec import SpecError
from tasks.training import Evaluation, score_holdout

log = logging.getLogger(__name__)
HOLDOUT_FRACTION = 0.2
FOLDS = 5
EARLY_STOP_FRACTION = 0.15


@dataclass(frozen=True)
class SnapshotModel:
    """The final booster, its holdout evaluation and the cross-validation scores."""

    fitted: FittedModel
    spec: FeatureSpec
    evaluation: Evaluation
    cv_aucs: tuple[float, ...]
    rows: dict[str, int]
    seed: int

    @property
    def cv_roc_auc(self) -> float:
        return float(np.mean(self.cv_aucs))


def _check_classes(y: np.ndarray) -> None:
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    needed = FOLDS * 2
    if min(positives, negatives) < needed:
        raise SpecError(
            f"{positives} churned and {negatives} stayed rows: stratified {FOLDS}-fold CV with a"
            f" holdout needs at least {needed} of each class; add rows"
        )


def _fit(x: pd.DataFrame, y: np.ndarray, rows: np.ndarray, *, seed: int) -> FittedModel:
    """Fit on ``rows``, early-stopping on a stratified slice of them."""
    fit_rows, stop_rows = train_test_split(
        rows, test_size=EARLY_STOP_FRACTION, stratify=y[rows], random_state=seed
    )
    return fit_booster(
        (x.iloc[fit_rows], y[fit_rows]),
        (x.iloc[stop_rows], y[stop_rows]),
        params=BoosterParams(),
        seed=seed,
    )


def split_holdout(y: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, holdout) row positions, stratified by label, reproducible for a seed."""
    positions = np.arange(len(y))
    rest, holdout = train_test_split(
        positions, test_size=HOLDOUT_FRACTION, stratify=y, random_state=seed
    )
    return np.sort(rest), np.sort(holdout)


def cv_folds(y: np.ndarray, rest: np.ndarray, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the ``rest`` positions: (train positions, test positions)."""
    skf = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return [(rest[tr], rest[te]) for tr, te in skf.split(rest, y[rest])]


def train_snapshot(frame: pd.DataFrame, *, spec: FeatureSpec, seed: int) -> SnapshotModel:
    """CV on the non-holdout rows, then the final fit on all of them, scored on the holdout."""
    frame = frame.reset_index(drop=True)
    y = frame["label"].to_numpy(dtype="int64")
    _check_classes(y)
    x = to_model_matrix(frame, spec=spec)
    rest, holdout = split_holdout(y, seed=seed)
    aucs = []
    for i, (train_rows, test_rows) in enumerate(cv_folds(y, rest, seed=seed)):
        fitted = _fit(x, y, train_rows, seed=seed)
        aucs.append(
            float(roc_auc_score(y[test_rows], predict_scores(fitted.booster, x.iloc[test_rows])))
        )
        log.info(
            "fold %d/%d: roc_auc %.4f (%d trees)", i + 1, FOLDS, aucs[-1], fitted.best_iteration + 1
        )
    final = _fit(x, y, rest, seed=seed)
    evaluation = score_holdout(final.booster, frame.iloc[holdout], spec=spec)
    log.info(
        "cv roc_auc %.4f ± %.4f over %d folds; holdout roc_auc %.4f on %d rows",
        np.mean(aucs),
        np.std(aucs),
        FOLDS,
        evaluation.metrics["roc_auc"],
        len(holdout),
    )
    return SnapshotModel(
        fitted=final,
        spec=spec,
        evaluation=evaluation,
        cv_aucs=tuple(aucs),
        rows={"train": len(rest), "holdout": len(holdout)},
        seed=seed,
    )
