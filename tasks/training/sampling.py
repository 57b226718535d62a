"""Which labelled rows get features: a row budget for the train cutoffs, nothing for purged ones.

Features are the expensive part of a training set (point-in-time queries per row) and the fit
costs time in proportion to its rows. Two kinds of rows are not worth their price:

- rows at **purged** cutoffs (inside the purge gap between partitions) are used by no partition;
- past a few hundred thousand train rows, **negatives** (customers who stayed; ~97% of rows) add
  little: the model learns churn from the churners. Beyond ``max_train_rows`` the train cutoffs
  keep every positive and a seeded uniform sample of negatives at rate ``r``, each kept negative
  weighted ``1/r``, so the weighted training data equals the full data in expectation (class
  balance, calibration after the prior correction, ``min_child_weight`` scale). This is the
  negative downsampling with importance weights of large-scale CTR / churn models.

The validation cutoffs' negatives are kept at the same rate (their ROC-AUC, which drives early
stopping, is unbiased under a uniform sample of one class, and its noise comes from the
churners, all kept). Holdout rows are never sampled: the reported figures and the drift
reference see every customer. The figures of what was left out travel with the frame
(``frame.attrs``) into the split, the MLflow params and the run summary.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tasks.training.cutoffs import CutoffSplit

log = logging.getLogger(__name__)

WEIGHT = "weight"  # column of the training frame: 1 for most rows, 1/r for sampled negatives
SAMPLE_ATTR = "training_sample"  # frame.attrs key holding a TrainingSample as a dict


@dataclass(frozen=True)
class TrainingSample:
    """What ``sample_training_rows`` left out, and the negative rate of the train cutoffs."""

    purged: tuple[datetime, ...] = ()
    purged_rows: int = 0
    negative_rate: float = 1.0
    train_negatives_dropped: int = 0
    valid_negatives_dropped: int = 0

    def as_params(self) -> dict[str, float | int]:
        """Flat figures for MLflow params and the run summary."""
        return {
            "train_negative_rate": round(self.negative_rate, 6),
            "train_negatives_dropped": self.train_negatives_dropped,
            "valid_negatives_dropped": self.valid_negatives_dropped,
            "purged_rows_not_loaded": self.purged_rows,
        }


def negative_rate(positives: int, negatives: int, budget: int, *, floor: int = 1) -> float:
    """The rate at which to keep negatives so that every positive plus the kept negatives fill
    ``budget`` rows (at least ``floor`` negatives kept); 1.0 when everything fits. Each kept
    negative then stands for 1/rate: a uniform sample of one class leaves ROC-AUC unbiased."""
    if negatives == 0:
        return 1.0
    return min(1.0, max(floor, budget - positives) / negatives)


def sample_training_rows(
    labels: pd.DataFrame, split: CutoffSplit, *, max_train_rows: int, seed: int
) -> tuple[pd.DataFrame, TrainingSample]:
    """The label rows worth features, with a ``weight`` column, and what was left out.

    ``max_train_rows`` 0 keeps every train row. Otherwise, when the train cutoffs hold more rows
    than that, every positive stays and negatives are kept at the rate that fills the budget
    (at least one negative is kept whatever the budget); the validation cutoffs' negatives are
    kept at the same rate. Same labels + seed → same rows.
    """
    if max_train_rows < 0:
        raise ValueError(f"max_train_rows must be >= 0 (0: no limit), got {max_train_rows}")
    as_of = labels["as_of"]
    purged_mask = as_of.isin(pd.to_datetime(list(split.purged))).to_numpy()
    train_mask = as_of.isin(pd.to_datetime(list(split.train))).to_numpy()
    valid_mask = as_of.isin(pd.to_datetime(list(split.valid))).to_numpy()
    stayed = labels["label"].to_numpy() == 0
    train_negative = train_mask & stayed
    positives = int(np.sum(train_mask)) - int(np.sum(train_negative))
    rate = 1.0
    keep = ~purged_mask
    sampled = (train_mask | valid_mask) & stayed
    if max_train_rows and int(np.sum(train_mask)) > max_train_rows:
        rate = negative_rate(positives, int(np.sum(train_negative)), max_train_rows)
        draw = np.random.default_rng(seed).random(len(labels))
        keep &= ~sampled | (draw < rate)
    weights = np.where(sampled, 1.0 / rate, 1.0)
    sample = TrainingSample(
        purged=split.purged,
        purged_rows=int(np.sum(purged_mask)),
        negative_rate=rate,
        train_negatives_dropped=int(np.sum(train_negative & ~keep)),
        valid_negatives_dropped=int(np.sum(valid_mask & stayed & ~keep)),
    )
    kept = labels.loc[keep].assign(**{WEIGHT: weights[keep]}).reset_index(drop=True)
    if rate < 1.0:
        log.info(
            "train cutoffs hold %d rows (%d positives), over the budget of %d: negatives kept at "
            "rate %.3f and weighted %.2f (%d left out; validation negatives at the same rate)",
            int(np.sum(train_mask)),
            positives,
            max_train_rows,
            rate,
            1.0 / rate,
            sample.train_negatives_dropped,
        )
    return kept, sample


def attach_sample(frame: pd.DataFrame, sample: TrainingSample) -> pd.DataFrame:
    """Record ``sample`` on the frame (``frame.attrs``), where the split and tracking read it."""
    frame.attrs[SAMPLE_ATTR] = asdict(sample)
    return frame


def sample_of(frame: pd.DataFrame) -> TrainingSample:
    """The TrainingSample recorded on ``frame`` (a frame built without sampling: the default)."""
    recorded = frame.attrs.get(SAMPLE_ATTR)
    if recorded is None:
        return TrainingSample()
    return TrainingSample(**{**recorded, "purged": tuple(recorded["purged"])})


def row_weights(rows: pd.DataFrame) -> np.ndarray | None:
    """The rows' weights, or None when the frame has no weight column (every row weighs 1)."""
    return rows[WEIGHT].to_numpy(dtype="float64") if WEIGHT in rows.columns else None
