"""Cutoffs and splits: which monthly cutoffs train, validate and hold out, and their rows.

Cutoffs are split by time, never at random: the latest cutoff is the holdout (evaluation only),
the one(s) before it the validation split (early stopping, hyperparameter search), the rest train.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from core.names import TAG_CUTOFFS_HOLDOUT, TAG_CUTOFFS_TRAIN, TAG_CUTOFFS_VALIDATION
from tasks.labels import available_cutoffs, build_training_set

log = logging.getLogger(__name__)
# A year of monthly cutoffs: recent behaviour, bounded cost; older cutoffs rarely help.
DEFAULT_MAX_CUTOFFS = 12


@dataclass(frozen=True)
class CutoffSplit:
    """Which monthly cutoffs train, validate (early stopping) and hold out (evaluation)."""

    train: tuple[datetime, ...]
    valid: tuple[datetime, ...]
    holdout: datetime

    def as_tags(self) -> dict[str, str]:
        """MLflow tags naming every cutoff, ISO dates joined by commas."""
        return {
            TAG_CUTOFFS_TRAIN: ",".join(c.date().isoformat() for c in self.train),
            TAG_CUTOFFS_VALIDATION: ",".join(c.date().isoformat() for c in self.valid),
            TAG_CUTOFFS_HOLDOUT: self.holdout.date().isoformat(),
        }


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


def read_training_set(
    *,
    engine: Engine,
    horizon_days: int,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
) -> pd.DataFrame:
    """Point-in-time features + labels for the chosen cutoffs, read from the warehouse."""
    chosen = choose_cutoffs(
        engine=engine, horizon_days=horizon_days, cutoffs=cutoffs, max_cutoffs=max_cutoffs
    )
    if not chosen:
        raise ValueError(
            f"no monthly cutoff with an elapsed {horizon_days}-day horizon in the warehouse "
            f"{engine.url.render_as_string(hide_password=True)}; ingest more history first"
        )
    frame = build_training_set(chosen, horizon_days, engine=engine)
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
