"""Cutoffs and splits: which monthly cutoffs train, validate and hold out, and their rows.

Cutoffs are split by time, never at random: the latest cutoff is the holdout (evaluation only),
the one(s) before it the validation split (early stopping, hyperparameter search), the rest train.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.names import (
    DEFAULT_MAX_CUTOFFS,
    TAG_CUTOFFS_HOLDOUT,
    TAG_CUTOFFS_PURGED,
    TAG_CUTOFFS_TRAIN,
    TAG_CUTOFFS_VALIDATION,
    to_naive_utc,
)
from core.settings import get_settings
from tasks.definitions import get_definition
from tasks.labels import check_label_rates
from tasks.modeldata.base import ModelData
from tasks.modeldata.builtin import BuiltinData
from tasks.training.sampling import WEIGHT, attach_sample, sample_training_rows

log = logging.getLogger(__name__)
# A year of monthly cutoffs: recent behaviour, bounded cost; older cutoffs rarely help.


@dataclass(frozen=True)
class CutoffSplit:
    """Which monthly cutoffs train, validate (early stopping) and hold out (evaluation).

    ``purged`` cutoffs sat inside a purge gap (closer than the horizon to the next partition)
    and are used by none.
    """

    train: tuple[datetime, ...]
    valid: tuple[datetime, ...]
    holdout: datetime
    purged: tuple[datetime, ...] = ()

    def as_tags(self) -> dict[str, str]:
        """MLflow tags naming every cutoff, ISO dates joined by commas."""
        tags = {
            TAG_CUTOFFS_TRAIN: ",".join(c.date().isoformat() for c in self.train),
            TAG_CUTOFFS_VALIDATION: ",".join(c.date().isoformat() for c in self.valid),
            TAG_CUTOFFS_HOLDOUT: self.holdout.date().isoformat(),
        }
        if self.purged:
            tags[TAG_CUTOFFS_PURGED] = ",".join(c.date().isoformat() for c in self.purged)
        return tags


def split_cutoffs(
    cutoffs: Sequence[datetime], *, horizon_days: int, n_valid: int = 1
) -> CutoffSplit:
    """Latest cutoff → holdout, the ``n_valid`` latest ones a whole horizon before it →
    validation, the ones a whole horizon before the first validation cutoff → train.

    The purge gap means a cancellation can label rows positive in one partition only: a label
    at cutoff ``c`` looks at ``(c, c + horizon]``, which ends before the next partition starts.
    """
    ordered = sorted(set(cutoffs))
    if n_valid < 1:
        raise ValueError(f"n_valid must be >= 1, got {n_valid}")
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    gap = timedelta(days=horizon_days)
    shown = [c.date().isoformat() for c in ordered]
    need = (
        f"an out-of-time split with a {horizon_days}-day purge gap needs >=1 train, {n_valid} "
        "validation and 1 holdout cutoff(s), each partition a whole horizon before the next — "
        "simulate/ingest more months, pass more cutoffs (--max-cutoffs) or lower the horizon"
    )
    if len(ordered) < n_valid + 2:
        raise ValueError(f"{len(ordered)} cutoff(s) given ({shown}); {need}")
    holdout = ordered[-1]
    valid = [c for c in ordered if c + gap <= holdout][-n_valid:]
    train = [c for c in ordered if valid and c + gap <= valid[0]]
    if len(valid) < n_valid or not train:
        raise ValueError(f"cutoffs {shown} leave {len(train)} train cutoff(s); {need}")
    purged = tuple(c for c in ordered if c not in {*train, *valid, holdout})
    return CutoffSplit(train=tuple(train), valid=tuple(valid), holdout=holdout, purged=purged)


def rows_at(frame: pd.DataFrame, cutoffs: Sequence[datetime]) -> pd.DataFrame:
    """Rows of a training set whose ``as_of`` is one of ``cutoffs``."""
    return frame.loc[frame["as_of"].isin(pd.to_datetime(list(cutoffs)))]


def choose_cutoffs(
    data: ModelData,
    *,
    engine: Engine,
    horizon_days: int,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
) -> list[datetime]:
    """The requested cutoffs (each must have an elapsed horizon for every source of ``data``),
    else the latest ``max_cutoffs`` available ones (None: all). Aware cutoffs become naive UTC."""
    available = data.cutoffs(engine=engine, horizon_days=horizon_days)
    if cutoffs is None:
        return list(available if max_cutoffs is None else available[-max_cutoffs:])
    cutoffs = [to_naive_utc(c) for c in cutoffs]
    data.check_elapsed(cutoffs, horizon_days=horizon_days, engine=engine)  # names the laggard
    unavailable = sorted(set(cutoffs) - set(available))
    if unavailable:
        raise ValueError(
            f"cutoffs {[c.isoformat() for c in unavailable]} are not available for a "
            f"{horizon_days}-day horizon (their horizon has not elapsed or they are not monthly "
            f"cutoffs); available: {[c.date().isoformat() for c in available]}"
        )
    return sorted(cutoffs)


def read_training_set(
    data: ModelData | None = None,
    *,
    engine: Engine,
    horizon_days: int | None = None,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
    max_train_rows: int | None = None,
    n_valid: int = 1,
    seed: int | None = None,
) -> pd.DataFrame:
    """Point-in-time features + labels + row weights of ``data`` (default: the built-in model's)
    for the chosen cutoffs, from the warehouse; ``horizon_days`` defaults to the data's.

    Rows at purged cutoffs get no features and are left out; past ``max_train_rows`` (default:
    settings, 0: no limit) the train cutoffs' negatives are sampled and weighted
    (``tasks.training.sampling``). What was left out is recorded in ``frame.attrs``.
    """
    settings = get_settings()
    data = data or BuiltinData(get_definition(settings.model_name))
    horizon_days = horizon_days or data.horizon_days
    chosen = choose_cutoffs(
        data, engine=engine, horizon_days=horizon_days, cutoffs=cutoffs, max_cutoffs=max_cutoffs
    )
    if not chosen:
        raise ValueError(
            f"no monthly cutoff with an elapsed {horizon_days}-day horizon in the warehouse "
            f"{engine.url.render_as_string(hide_password=True)}; ingest more history first"
        )
    split = split_cutoffs(chosen, horizon_days=horizon_days, n_valid=n_valid)  # fail fast
    labels = data.labels(chosen, horizon_days=horizon_days, engine=engine)
    check_label_rates(labels)  # before the expensive features: fail fast
    kept, sample = sample_training_rows(
        labels,
        split,
        max_train_rows=settings.train_max_rows if max_train_rows is None else max_train_rows,
        seed=settings.seed if seed is None else seed,
    )
    del labels
    frame = attach_sample(data.historical_features(kept, engine=engine), sample)
    log.info(
        "training set: %d rows over %d cutoffs (%s .. %s; %d purged cutoff(s) not loaded), "
        "weighted churn rate %.3f",
        len(frame),
        len(chosen) - len(split.purged),
        chosen[0].date(),
        chosen[-1].date(),
        len(split.purged),
        float(np.average(frame["label"], weights=frame[WEIGHT])) if len(frame) else float("nan"),
    )
    return frame
