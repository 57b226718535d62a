"""Delayed-label performance: predictions joined with the cancellations realized after them.

A prediction made from features as of ``as_of`` is judged on the label of that moment: did the
customer cancel within ``(as_of, as_of + horizon]``? Only predictions whose horizon has fully
elapsed by the data watermark are labelled — a younger one would count future churners as stayers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from tasks.modeldata import ModelData
from tasks.training.evaluation import compute_metrics

log = logging.getLogger(__name__)


def label_predictions(
    predictions: pd.DataFrame,
    *,
    data: ModelData,
    engine: Engine,
    horizon_days: int,
    now: datetime,
) -> pd.DataFrame:
    """The predictions whose horizon elapsed by ``now``, with their 0/1 ``label``.

    Labels come from the model's data (``tasks.labels.build_labels`` for the built-in model, the
    subscriptions of a declared event source) at each distinct ``as_of``; a customer no longer
    active at that moment has no label and is left out (it could not churn then). Raises
    ``LabelsUnavailableError`` when the model's data holds no labels.
    """
    elapsed = predictions[predictions["as_of"] + timedelta(days=horizon_days) <= now]
    if elapsed.empty:
        return elapsed.assign(label=pd.Series(dtype="int64"))
    moments = sorted({ts.to_pydatetime() for ts in elapsed["as_of"]})
    labels = data.labels(moments, horizon_days=horizon_days, engine=engine, now=now)
    joined = elapsed.merge(labels, on=["customer_id", "as_of"], how="inner")
    # one customer may be scored several times at one as_of: judge each prediction once
    return joined.reset_index(drop=True)


def performance_metrics(labelled: pd.DataFrame) -> dict[str, float]:
    """ROC-AUC, PR-AUC, precision and capture in the riskiest 10% of labelled predictions.

    Empty when they cannot be computed (no labelled prediction, or only one class), which the
    caller reports as "not yet measurable" rather than as a number.
    """
    if labelled.empty or labelled["label"].nunique() < 2:
        return {}
    metrics = compute_metrics(
        labelled["label"].to_numpy(dtype=np.int64), labelled["score"].to_numpy(dtype=np.float64)
    )
    keep = ("roc_auc", "pr_auc", "precision_at_10pct", "capture_rate_at_10pct", "base_rate")
    return {f"performance.{k}": metrics[k] for k in keep} | {
        "performance.labelled": float(len(labelled))
    }
