"""Fit the XGBoost churn model on the train cutoffs, early-stopped on the validation cutoffs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from core.settings import get_settings
from models.estimator import FittedModel, search_params
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.features.definitions import CATEGORIES, FEATURES, definitions_hash
from tasks.training.cutoffs import CutoffSplit, split_cutoffs

log = logging.getLogger(__name__)
# Business rules the model must obey whatever the data says: more failed payments, never less risk.
MONOTONE = {"failed_payments_30d": 1, "failed_payments_90d": 1}


@dataclass(frozen=True)
class TrainedModel:
    """The chosen booster, every search trial, the spec it was trained on and the split used."""

    fitted: FittedModel
    trials: tuple[FittedModel, ...]
    spec: FeatureSpec
    split: CutoffSplit
    seed: int
    rows: dict[str, int]


def feature_spec() -> FeatureSpec:
    """The spec of the current feature definitions (order, categories, hash)."""
    return FeatureSpec.from_definitions(
        FEATURES,
        categories=CATEGORIES,
        definitions_hash=definitions_hash(FEATURES),
        monotone=MONOTONE,
    )


def _xy(
    frame: pd.DataFrame, cutoffs: tuple[datetime, ...], spec: FeatureSpec
) -> tuple[pd.DataFrame, np.ndarray]:
    """Model matrix and labels of the rows at ``cutoffs``, copying only the model's columns
    (a training set is ~1M rows: a copy of every column would double the peak memory)."""
    mask = frame["as_of"].isin(pd.to_datetime(list(cutoffs))).to_numpy()
    rows = frame.loc[mask, [*spec.names, "label"]]
    return to_model_matrix(rows, spec=spec), rows["label"].to_numpy(dtype="int64")


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
    if split.purged:
        log.info(
            "purge gap of %d days: cutoff(s) %s left out so no cancellation labels two partitions",
            horizon,
            [c.date().isoformat() for c in split.purged],
        )
    return split


def partition_rows(frame: pd.DataFrame, split: CutoffSplit) -> dict[str, int]:
    """Rows of the training set in each partition of ``split``."""
    return {
        "train": _count_at(frame, split.train),
        "valid": _count_at(frame, split.valid),
        "holdout": _count_at(frame, (split.holdout,)),
        "purged": _count_at(frame, split.purged),
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
    train, valid = _xy(frame, split.train, spec), _xy(frame, split.valid, spec)
    best, trials = search_params(
        train,
        valid,
        n_trials=n_trials,
        seed=seed,
        monotone=spec.monotone,
    )
    log.info(
        "trained on %d rows (%d cutoffs), validated on %d: best of %d trial(s) has valid AUC "
        "%.4f at %d trees",
        len(train[1]),
        len(split.train),
        len(valid[1]),
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
    )
