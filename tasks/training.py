"""Training: pick out-of-time cutoffs, build the training set, fit the XGBoost churn model.

Cutoffs are split by time, never at random: the latest cutoff is the holdout (evaluation only),
the one(s) before it the validation split (early stopping, hyperparameter search), the rest train.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import Engine

from core.db import make_engine
from core.settings import get_settings
from models.estimator import FittedModel, search_params
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.features.definitions import CATEGORIES, FEATURES, definitions_hash
from tasks.labels import available_cutoffs, build_training_set
from tasks.retries import DATABASE_ERRORS, retry_if

log = logging.getLogger(__name__)
# A year of monthly cutoffs: recent behaviour, bounded cost; older cutoffs rarely help.
DEFAULT_MAX_CUTOFFS = 12
# Business rules the model must obey whatever the data says: more failed payments, never less risk.
MONOTONE = {"failed_payments_30d": 1, "failed_payments_90d": 1}


@dataclass(frozen=True)
class CutoffSplit:
    """Which monthly cutoffs train, validate (early stopping) and hold out (evaluation)."""

    train: tuple[datetime, ...]
    valid: tuple[datetime, ...]
    holdout: datetime

    def as_tags(self) -> dict[str, str]:
        """MLflow tags naming every cutoff, ISO dates joined by commas."""
        return {
            "cutoffs.train": ",".join(c.date().isoformat() for c in self.train),
            "cutoffs.validation": ",".join(c.date().isoformat() for c in self.valid),
            "cutoffs.holdout": self.holdout.date().isoformat(),
        }


@dataclass(frozen=True)
class TrainedModel:
    """The chosen booster, every search trial, the spec it was trained on and the split used."""

    fitted: FittedModel
    trials: tuple[FittedModel, ...]
    spec: FeatureSpec
    split: CutoffSplit
    seed: int
    rows: dict[str, int]


def split_cutoffs(cutoffs: Sequence[datetime], *, n_valid: int = 1) -> CutoffSplit:
    """Latest cutoff → holdout, the ``n_valid`` before it → validation, the rest → train."""
    ordered = sorted(set(cutoffs))
    if n_valid < 1:
        raise ValueError(f"n_valid must be >= 1, got {n_valid}")
    if len(ordered) < n_valid + 2:
        raise ValueError(
            f"{len(ordered)} cutoff(s) given ({[c.date().isoformat() for c in ordered]}); an "
            f"out-of-time split needs at least {n_valid + 2}: >=1 train, {n_valid} validation, "
            "1 holdout — simulate/ingest more months or lower the horizon"
        )
    return CutoffSplit(
        train=tuple(ordered[: -n_valid - 1]),
        valid=tuple(ordered[-n_valid - 1 : -1]),
        holdout=ordered[-1],
    )


def rows_at(frame: pd.DataFrame, cutoffs: Sequence[datetime]) -> pd.DataFrame:
    """Rows of a training set whose ``as_of`` is one of ``cutoffs``."""
    return frame.loc[frame["as_of"].isin(pd.to_datetime(list(cutoffs)))]


@task(cache_policy=NONE)
def load_feature_spec() -> FeatureSpec:
    """The spec of the current feature definitions (order, categories, hash)."""
    return FeatureSpec.from_definitions(
        FEATURES,
        categories=CATEGORIES,
        definitions_hash=definitions_hash(FEATURES),
        monotone=MONOTONE,
    )


def choose_cutoffs(
    *,
    engine: Engine,
    horizon_days: int,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
) -> list[datetime]:
    """The requested cutoffs (each must have an elapsed horizon), else the latest
    ``max_cutoffs`` available ones (None: all)."""
    available = available_cutoffs(engine=engine, horizon_days=horizon_days)
    if cutoffs is None:
        return list(available if max_cutoffs is None else available[-max_cutoffs:])
    unavailable = sorted(set(cutoffs) - set(available))
    if unavailable:
        raise ValueError(
            f"cutoffs {[c.isoformat() for c in unavailable]} are not available for a "
            f"{horizon_days}-day horizon (their horizon has not elapsed or they are not monthly "
            f"cutoffs); available: {[c.date().isoformat() for c in available]}"
        )
    return sorted(cutoffs)


# Retry lost connections and I/O errors, never bad input.
is_transient_failure = retry_if(lambda error: isinstance(error, (*DATABASE_ERRORS, OSError)))


@task(
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=is_transient_failure,
    cache_policy=NONE,
)
def load_training_set(
    *,
    horizon_days: int,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
    database_url: str | None = None,
) -> pd.DataFrame:
    """Point-in-time features + labels for the chosen cutoffs, read from the warehouse."""
    engine = make_engine(database_url or get_settings().database_url)
    try:
        chosen = choose_cutoffs(
            engine=engine, horizon_days=horizon_days, cutoffs=cutoffs, max_cutoffs=max_cutoffs
        )
        if not chosen:
            raise ValueError(
                f"no monthly cutoff with an elapsed {horizon_days}-day horizon in the warehouse "
                f"{engine.url.render_as_string(hide_password=True)}; ingest more history first"
            )
        frame = build_training_set(chosen, horizon_days, engine=engine)
    finally:
        engine.dispose()
    rates = frame.groupby("as_of")["label"].mean()
    if (rates == 0).any():
        log.warning(
            "no churner at cutoff(s) %s: labels there are suspect (data before the sources "
            "start?); pass explicit cutoffs or a smaller max_cutoffs",
            [str(ts.date()) for ts in rates.index[rates == 0]],
        )
    log.info(
        "training set: %d rows over %d cutoffs (%s .. %s), churn rate %.3f",
        len(frame),
        len(chosen),
        chosen[0].date(),
        chosen[-1].date(),
        float(frame["label"].mean()) if len(frame) else float("nan"),
    )
    return frame


def _xy(frame: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, np.ndarray]:
    return to_model_matrix(frame, spec=spec), frame["label"].to_numpy(dtype="int64")


@task(cache_policy=NONE)
def train_model(
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
