"""Training on a single snapshot: a seeded stratified holdout, stratified 5-fold CV on the rest,
one final fit.

A snapshot has one moment, so an out-of-time split does not exist; rows are split by id hash,
stratified by the label. Each CV fold early-stops on a stratified slice of its own training rows
(never on the rows it is scored on), keeping at least ``MIN_TREES`` trees: on a small table that
slice holds a few dozen rows, whose noisy AUC can peak after 3 trees. The final model is fit on
all non-holdout rows with the folds' mean number of trees, so the holdout steers nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from core.settings import get_settings
from models.estimator import (
    BoosterParams,
    FittedModel,
    boost,
    fit_booster,
    predict_scores,
    undo_class_weight,
)
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.training.baseline import score_baseline
from tasks.training.evaluation import Evaluation, score_holdout
from tasks.training.sampling import negative_rate

log = logging.getLogger(__name__)
HOLDOUT_FRACTION = 0.2
FOLDS = 5
EARLY_STOP_FRACTION = 0.15
MIN_TREES = 20  # below this a fold's early stop is noise of its small slice, not a fit


class TooFewRowsError(ValueError):
    """The table cannot support a stratified holdout and CV: more rows are needed."""


@dataclass(frozen=True)
class CrossValidatedModel:
    """The final booster, its holdout evaluation and the cross-validation scores."""

    fitted: FittedModel
    spec: FeatureSpec
    evaluation: Evaluation
    cv_aucs: tuple[float, ...]
    cv_trees: tuple[int, ...]  # trees kept by each fold; the final model has their mean
    rows: dict[str, int]
    seed: int

    @property
    def cv_roc_auc(self) -> float:
        return float(np.mean(self.cv_aucs))


def _check_classes(y: np.ndarray) -> None:
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    needed = FOLDS * 2
    if min(positives, negatives) < needed:
        raise TooFewRowsError(
            f"{positives} churned and {negatives} stayed rows: stratified {FOLDS}-fold CV with a"
            f" holdout needs at least {needed} of each class; add rows"
        )


def _fit_fold(
    x: pd.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    *,
    spec: FeatureSpec,
    seed: int,
    weight: np.ndarray,
) -> FittedModel:
    """Fit on ``rows``, early-stopping on a stratified slice of them, keeping at least MIN_TREES
    trees (training ran early_stopping_rounds past the best tree, so they are there to keep)."""
    fit_rows, stop_rows = train_test_split(
        rows, test_size=EARLY_STOP_FRACTION, stratify=y[rows], random_state=seed
    )
    return fit_booster(
        (x.iloc[fit_rows], y[fit_rows]),
        (x.iloc[stop_rows], y[stop_rows]),
        params=BoosterParams(),
        seed=seed,
        monotone=spec.monotone,
        weight=weight[fit_rows],
        min_trees=MIN_TREES,
    )


def within_budget(
    y: np.ndarray, rest: np.ndarray, *, max_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(the ``rest`` positions CV and the final fit use, every row's weight).

    The training row budget of out-of-time training, for a table: when ``rest`` holds more than
    ``max_rows`` rows (0: no limit), every churned row stays and stayed rows are kept at the rate
    that fills the budget, each weighted 1/rate. A uniform sample of one class leaves ROC-AUC
    unbiased, so the folds' scores still estimate the whole table's; the holdout is never
    sampled. Same labels + seed → same rows."""
    weight = np.ones(len(y))
    if not max_rows or len(rest) <= max_rows:
        return rest, weight
    stayed = y[rest] == 0
    positives = int(np.sum(~stayed))
    rate = negative_rate(positives, int(np.sum(stayed)), max_rows, floor=FOLDS * 2)
    draw = np.random.default_rng(seed).random(len(rest))
    kept = rest[~stayed | (draw < rate)]
    weight[y == 0] = 1.0 / rate
    log.info(
        "%d rows to cross-validate (%d churned), over the budget of %d: stayed rows kept at rate"
        " %.3f and weighted %.2f (%d left out); the holdout keeps all its rows",
        len(rest),
        positives,
        max_rows,
        rate,
        1.0 / rate,
        len(rest) - len(kept),
    )
    return kept, weight


def split_holdout(ids: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, holdout) row positions, stratified by label and stable per customer: in each class
    the HOLDOUT_FRACTION of rows whose (seed, id) hash is lowest. A reload of the same table
    gives the same holdout, and a corrected one nearly the same, so two versions of a model
    share most of their holdout rows (the gate compares them on rows neither trained on)."""
    keys = pd.util.hash_array(np.asarray(ids).astype(str).astype(object), hash_key=_hash_key(seed))
    holdout: list[np.ndarray] = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        ranked = members[np.argsort(keys[members], kind="stable")]
        holdout.append(ranked[: round(HOLDOUT_FRACTION * len(members))])
    chosen = np.sort(np.concatenate(holdout))
    return np.setdiff1d(np.arange(len(y)), chosen), chosen


def _hash_key(seed: int) -> str:
    return f"churn{seed:011d}"[-16:]


def cv_folds(y: np.ndarray, rest: np.ndarray, *, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the ``rest`` positions: (train positions, test positions)."""
    skf = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return [(rest[tr], rest[te]) for tr, te in skf.split(rest, y[rest])]


def fit_crossval(
    frame: pd.DataFrame, *, spec: FeatureSpec, seed: int, max_rows: int | None = None
) -> CrossValidatedModel:
    """CV on the non-holdout rows, then the final fit on all of them, scored on the holdout (and
    the logistic baseline, fitted on the same rows). ``max_rows`` (default: the settings'
    ``train_max_rows``) is the row budget of CV and the final fit (``within_budget``)."""
    frame = frame.reset_index(drop=True)
    y = frame["label"].to_numpy(dtype="int64")
    _check_classes(y)
    x = to_model_matrix(frame, spec=spec)
    rest, holdout = split_holdout(frame["customer_id"].to_numpy(), y, seed=seed)
    budget = get_settings().train_max_rows if max_rows is None else max_rows
    rest, weight = within_budget(y, rest, max_rows=budget, seed=seed)
    aucs, trees = [], []
    for i, (train_rows, test_rows) in enumerate(cv_folds(y, rest, seed=seed)):
        fold = _fit_fold(x, y, train_rows, spec=spec, seed=seed, weight=weight)
        aucs.append(
            float(roc_auc_score(y[test_rows], predict_scores(fold.booster, x.iloc[test_rows])))
        )
        trees.append(fold.best_iteration + 1)
        log.info("fold %d/%d: roc_auc %.4f (%d trees)", i + 1, FOLDS, aucs[-1], trees[-1])
    params = replace(BoosterParams(), num_boost_round=max(MIN_TREES, round(float(np.mean(trees)))))
    booster, spw = boost(
        (x.iloc[rest], y[rest]),
        params=params,
        seed=seed,
        monotone=spec.monotone,
        weight=weight[rest],
    )
    final = FittedModel(
        booster=undo_class_weight(booster, weight=spw),
        params=params,
        best_iteration=params.num_boost_round - 1,
        # no validation slice in the final fit: its trees come from CV, so is its AUC
        valid_auc=float(np.mean(aucs)),
        scale_pos_weight=spw,
    )
    evaluation = score_holdout(final.booster, frame.iloc[holdout], spec=spec)
    # the baseline learns from the final fit's rows and is scored on the same holdout
    baseline = score_baseline(
        (x.iloc[rest], y[rest]), (x.iloc[holdout], y[holdout]), spec=spec, weight=weight[rest]
    )
    evaluation = replace(evaluation, baseline=baseline)
    log.info(
        "cv roc_auc %.4f ± %.4f over %d folds; final fit of %d trees; holdout roc_auc %.4f on %d"
        " rows",
        np.mean(aucs),
        np.std(aucs),
        FOLDS,
        params.num_boost_round,
        evaluation.metrics["roc_auc"],
        len(holdout),
    )
    return CrossValidatedModel(
        fitted=final,
        spec=spec,
        evaluation=evaluation,
        cv_aucs=tuple(aucs),
        cv_trees=tuple(trees),
        rows={"train": len(rest), "holdout": len(holdout)},
        seed=seed,
    )
