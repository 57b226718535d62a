"""Fit the XGBoost churn model on the train cutoffs, early-stopped on the validation cutoffs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.settings import get_settings
from models.estimator import FittedModel, search_params
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.features.definitions import CATEGORIES, FEATURES, definitions_hash
from tasks.training.cutoffs import CutoffSplit, rows_at, split_cutoffs

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


def _xy(frame: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, np.ndarray]:
    return to_model_matrix(frame, spec=spec), frame["label"].to_numpy(dtype="int64")


def fit_model(
    frame: pd.DataFrame,
    *,
    spec: FeatureSpec,
    n_trials: int = 0,
    n_valid: int = 1,
    seed: int | None = None,
) -> TrainedModel:
    """Fit on the train cutoffs, early-stop (and search ``n_trials``) on the validation cutoffs."""
    required = {"customer_id", "as_of", "label"} - set(frame.columns)
    if required:
        raise ValueError(f"training set lacks columns {sorted(required)}; use build_training_set")
    seed = get_settings().seed if seed is None else seed
    cutoffs = [ts.to_pydatetime() for ts in pd.to_datetime(frame["as_of"].unique())]
    split = split_cutoffs(cutoffs, n_valid=n_valid)
    train_rows, valid_rows = rows_at(frame, split.train), rows_at(frame, split.valid)
    best, trials = search_params(
        _xy(train_rows, spec),
        _xy(valid_rows, spec),
        n_trials=n_trials,
        seed=seed,
        monotone=spec.monotone,
    )
    log.info(
        "trained on %d rows (%d cutoffs), validated on %d: best of %d trial(s) has valid AUC "
        "%.4f at %d trees",
        len(train_rows),
        len(split.train),
        len(valid_rows),
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
        rows={
            "train": len(train_rows),
            "valid": len(valid_rows),
            "holdout": len(rows_at(frame, [split.holdout])),
        },
    )
