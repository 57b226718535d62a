"""The churn model: an XGBoost binary classifier with native categorical support.

Histogram trees, all cores, a fixed seed (same data + seed → same model), class imbalance through
``scale_pos_weight`` and early stopping on an out-of-time validation split.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class BoosterParams:
    """Tunable hyperparameters; the rest of the XGBoost configuration is fixed below."""

    max_depth: int = 4
    learning_rate: float = 0.1
    min_child_weight: float = 5.0
    subsample: float = 0.9
    colsample_bytree: float = 0.9
    reg_lambda: float = 1.0
    max_bin: int = 256
    num_boost_round: int = 500
    early_stopping_rounds: int = 30

    def as_dict(self) -> dict[str, Any]:
        """Flat dict for logging."""
        return asdict(self)


@dataclass(frozen=True)
class FittedModel:
    """A booster cut at its best iteration, plus how it got there."""

    booster: xgb.Booster
    params: BoosterParams
    best_iteration: int
    valid_auc: float
    scale_pos_weight: float


def xgb_config(
    params: BoosterParams,
    *,
    seed: int,
    scale_pos_weight: float,
    nthread: int | None = None,
    monotone: str | None = None,
) -> dict[str, Any]:
    """The full XGBoost training configuration for ``params``."""
    config: dict[str, Any] = {
        "objective": "binary:logistic",
        "eval_metric": "auc",  # drives early stopping on the validation cutoffs
        "tree_method": "hist",
        "max_depth": params.max_depth,
        "eta": params.learning_rate,
        "min_child_weight": params.min_child_weight,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "lambda": params.reg_lambda,
        "max_bin": params.max_bin,
        "max_cat_to_onehot": 1,
        "scale_pos_weight": scale_pos_weight,
        "seed": seed,
        "nthread": nthread or os.cpu_count() or 1,
    }
    if monotone:
        config["monotone_constraints"] = monotone
    return config


def monotone_constraints(columns: Sequence[str], monotone: Mapping[str, int]) -> str | None:
    """XGBoost's "(0,1,...)" constraint string in column order; None without constraints."""
    if not monotone:
        return None
    return "(" + ",".join(str(monotone.get(name, 0)) for name in columns) + ")"


def to_dmatrix(matrix: pd.DataFrame, label: np.ndarray | None = None) -> xgb.DMatrix:
    """DMatrix with native categoricals (pd.Categorical columns)."""
    return xgb.DMatrix(matrix, label=label, enable_categorical=True, missing=np.nan)


def balance_weight(y: np.ndarray, weight: np.ndarray | None = None) -> float:
    """negatives / positives (weighted by ``weight`` when given), the usual ``scale_pos_weight``;
    raises on a one-class training set."""
    positives = int(np.sum(y == 1))
    negatives = int(np.sum(y == 0))
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"training labels hold {positives} positives and {negatives} negatives; "
            "a classifier needs both — use more or later cutoffs"
        )
    if weight is None:
        return negatives / positives
    return float(np.sum(weight[y == 0]) / np.sum(weight[y == 1]))


def fit_booster(
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    *,
    params: BoosterParams,
    seed: int,
    nthread: int | None = None,
    monotone: Mapping[str, int] | None = None,
    weight: np.ndarray | None = None,
    min_trees: int = 1,
) -> FittedModel:
    """Train on ``train`` (rows weighted by ``weight``, default 1) with early stopping on
    ``valid`` (validation AUC); keep the best trees, at least ``min_trees``."""
    check_both_classes(valid[1])
    booster, spw = boost(
        train,
        params=params,
        seed=seed,
        nthread=nthread,
        monotone=monotone,
        weight=weight,
        valid=valid,
    )
    return keep_best_trees(booster, params=params, weight=spw, valid=valid, min_trees=min_trees)


def boost(
    train: tuple[pd.DataFrame, np.ndarray],
    *,
    params: BoosterParams,
    seed: int,
    nthread: int | None = None,
    monotone: Mapping[str, int] | None = None,
    weight: np.ndarray | None = None,
    valid: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> tuple[xgb.Booster, float]:
    """(booster still class-weighted, its ``scale_pos_weight``): ``params.num_boost_round``
    trees on ``train``, early-stopped on ``valid`` when given (``booster.best_iteration``)."""
    x_train, y_train = train
    spw = balance_weight(y_train, weight)
    # quantized once, no float copy of the data kept: faster and leaner than a DMatrix for hist
    dtrain = xgb.QuantileDMatrix(
        x_train,
        y_train,
        weight=weight,
        enable_categorical=True,
        max_bin=params.max_bin,
        nthread=nthread or -1,
    )
    config = xgb_config(
        params,
        seed=seed,
        scale_pos_weight=spw,
        nthread=nthread,
        monotone=monotone_constraints(list(x_train.columns), monotone or {}),
    )
    if valid is None:
        return xgb.train(config, dtrain, num_boost_round=params.num_boost_round), spw
    dvalid = xgb.QuantileDMatrix(
        valid[0], valid[1], enable_categorical=True, ref=dtrain, max_bin=params.max_bin
    )
    booster = xgb.train(
        config,
        dtrain,
        num_boost_round=params.num_boost_round,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    return booster, spw


def check_both_classes(y_valid: np.ndarray) -> None:
    """Early stopping on validation AUC needs positives and negatives among the labels."""
    if len(np.unique(y_valid)) < 2:
        raise ValueError(
            f"validation labels hold a single class ({np.unique(y_valid).tolist()}) across "
            f"{len(y_valid)} rows; early stopping needs both — widen the validation cutoffs"
        )


def keep_best_trees(
    booster: xgb.Booster,
    *,
    params: BoosterParams,
    weight: float,
    valid: tuple[pd.DataFrame, np.ndarray],
    min_trees: int = 1,
) -> FittedModel:
    """An early-stopped booster cut to its best iteration (at least ``min_trees`` trees, when
    grown), its class weight undone, with its validation AUC."""
    best = min(max(int(booster.best_iteration), min_trees - 1), booster.num_boosted_rounds() - 1)
    kept = undo_class_weight(booster[: best + 1], weight=weight)
    x_valid, y_valid = valid
    valid_auc = float(roc_auc_score(y_valid, predict_scores(kept, x_valid)))
    return FittedModel(
        booster=kept,
        params=params,
        best_iteration=best,
        valid_auc=valid_auc,
        scale_pos_weight=weight,
    )


def undo_class_weight(booster: xgb.Booster, *, weight: float) -> xgb.Booster:
    """Shift the booster's log-odds by -log(weight) (prior correction), so that a model trained
    with ``scale_pos_weight`` still outputs calibrated probabilities; the ranking is unchanged."""
    params = json.loads(booster.save_config())["learner"]["learner_model_param"]
    base = float(str(params["base_score"]).strip("[]"))
    margin = math.log(base / (1 - base)) - math.log(weight)
    shifted = booster.copy()  # leave the caller's booster untouched
    shifted.set_param({"base_score": 1 / (1 + math.exp(-margin))})
    # a fresh booster from the serialized model: no prediction cache from before the shift
    return xgb.Booster(model_file=shifted.save_raw(raw_format="json"))


def predict_scores(booster: xgb.Booster, matrix: pd.DataFrame) -> np.ndarray:
    """Churn probability per row."""
    return np.asarray(booster.predict(to_dmatrix(matrix)), dtype="float64")


def sample_params(rng: np.random.Generator, base: BoosterParams) -> BoosterParams:
    """One random draw from a small, sensible search space around ``base``."""
    return replace(
        base,
        max_depth=int(rng.integers(3, 9)),
        learning_rate=float(np.round(10 ** rng.uniform(-1.6, -0.7), 4)),
        min_child_weight=float(np.round(10 ** rng.uniform(0, 1.5), 3)),
        subsample=float(np.round(rng.uniform(0.6, 1.0), 3)),
        colsample_bytree=float(np.round(rng.uniform(0.5, 1.0), 3)),
        reg_lambda=float(np.round(10 ** rng.uniform(-1, 1), 3)),
    )


def search_params(
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    *,
    n_trials: int,
    seed: int,
    base: BoosterParams | None = None,
    nthread: int | None = None,
    monotone: Mapping[str, int] | None = None,
    weight: np.ndarray | None = None,
) -> tuple[FittedModel, list[FittedModel]]:
    """Fit ``base`` and ``n_trials`` seeded random draws (train rows weighted by ``weight``);
    best validation AUC wins (ties: first)."""
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    base = base or BoosterParams()
    rng = np.random.default_rng(seed)
    candidates = [base] + [sample_params(rng, base) for _ in range(n_trials)]
    trials = [
        fit_booster(
            train, valid, params=p, seed=seed, nthread=nthread, monotone=monotone, weight=weight
        )
        for p in candidates
    ]
    best = max(trials, key=lambda t: t.valid_auc)  # max keeps the first of equal values
    return best, trials
