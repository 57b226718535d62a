"""Fit the XGBoost churn model on the train cutoffs, early-stopped on the validation cutoffs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from core.settings import get_settings
from models.estimator import FittedModel, search_params
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.definitions.catalog import MONOTONE
from tasks.features.definitions import CATEGORIES, FEATURES, definitions_hash
from tasks.training.cutoffs import CutoffSplit, split_cutoffs
from tasks.training.sampling import WEIGHT, TrainingSample, row_weights, sample_of

log = logging.getLogger(__name__)
# Business rules the model must obey whatever the data says: more failed payments, never less risk.


@dataclass(frozen=True)
class TrainedModel:
    """The chosen booster, every search trial, the spec it was trained on and the split used."""

    fitted: FittedModel
    trials: tuple[FittedModel, ...]
    spec: FeatureSpec
    split: CutoffSplit
    seed: int
    rows: dict[str, int]
    sample: TrainingSample = field(default_factory=TrainingSample)


def feature_spec() -> FeatureSpec:
    """The spec of the current feature definitions (order, categories, hash)."""
    return FeatureSpec.from_definitions(
        FEATURES,
        categories=CATEGORIES,
        definitions_hash=definitions_hash(FEATURES),
        monotone=MONOTONE,
    )


def partition_xy(
    frame: pd.DataFrame, cutoffs: tuple[datetime, ...], spec: FeatureSpec
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Model matrix, labels and row weights (None: all 1) of the rows at ``cutoffs``, copying
    only the model's columns (a copy of every column would double the peak memory)."""
    mask = frame["as_of"].isin(pd.to_datetime(list(cutoffs))).to_numpy()
    extra = [c for c in ("label", WEIGHT) if c in frame.columns]
    rows = frame.loc[mask, [*spec.names, *extra]]
    labels = rows["label"].to_numpy(dtype="int64")
    return to_model_matrix(rows, spec=spec), labels, row_weights(rows)


def _count_at(frame: pd.DataFrame, cutoffs: tuple[datetime, ...]) -> int:
    return int(frame["as_of"].isin(pd.to_datetime(list(cutoffs))).sum())


def split_training_set(
    frame: pd.DataFrame, *, horizon_days: int | None, n_valid: int
) -> CutoffSplit:
    """The purge-gapped split of a training set's cutoffs (``horizon_days`` default: settings)."""
    required = {"customer_id", "as_of", "label"} - set(frame.columns)
    if required:
        raise ValueError(f"training set lacks columns {sorted(required)}; use build_training_set")
    horizon = get_settings().horizon_days if horizon_days is None else horizon_days
    cutoffs = [ts.to_pydatetime() for ts in pd.to_datetime(frame["as_of"].unique())]
    split = split_cutoffs(cutoffs, horizon_days=horizon, n_valid=n_valid)
    not_loaded = sample_of(frame).purged  # purged before the features were built
    if not_loaded:
        split = replace(split, purged=tuple(sorted({*split.purged, *not_loaded})))
    if split.purged:
        log.info(
            "purge gap of %d days: cutoff(s) %s left out so no cancellation labels two partitions",
            horizon,
            [c.date().isoformat() for c in split.purged],
        )
    return split


def partition_rows(frame: pd.DataFrame, split: CutoffSplit) -> dict[str, int]:
    """Rows of the training set in each partition of ``split`` (purged: labelled rows of the
    purged cutoffs, whether or not their features were loaded)."""
    return {
        "train": _count_at(frame, split.train),
        "valid": _count_at(frame, split.valid),
        "holdout": _count_at(frame, (split.holdout,)),
        "purged": _count_at(frame, split.purged) + sample_of(frame).purged_rows,
    }


def fit_model(
    frame: pd.DataFrame,
    *,
    spec: FeatureSpec,
    horizon_days: int | None = None,
    n_trials: int = 0,
    n_valid: int = 1,
    seed: int | None = None,
) -> TrainedModel:
    """Fit on the train cutoffs, early-stop (and search ``n_trials``) on the validation cutoffs.

    ``horizon_days`` (default: settings) is the purge gap between the partitions.
    """
    split = split_training_set(frame, horizon_days=horizon_days, n_valid=n_valid)
    seed = get_settings().seed if seed is None else seed
    x_train, y_train, weight = partition_xy(frame, split.train, spec)
    # unweighted: validation AUC is unbiased under the uniform sample of negatives
    x_valid, y_valid, _ = partition_xy(frame, split.valid, spec)
    best, trials = search_params(
        (x_train, y_train),
        (x_valid, y_valid),
        n_trials=n_trials,
        seed=seed,
        monotone=spec.monotone,
        weight=weight,
    )
    log.info(
        "trained on %d rows (%d cutoffs), validated on %d: best of %d trial(s) has valid AUC "
        "%.4f at %d trees",
        len(y_train),
        len(split.train),
        len(y_valid),
        len(trials),
        best.valid_auc,
        best.best_iteration + 1,
    )
    return TrainedModel(
        fitted=best,
        trials=tuple(trials),
        spec=spec,
        split=split,
        seed=seed,
        rows=partition_rows(frame, split),
        sample=sample_of(frame),
    )
