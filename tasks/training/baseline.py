"""The first-model gate's yardstick: a logistic regression on the candidate's own split.

A first model has no champion to beat, and a fixed AUC floor says more about the data than about
the model. So each candidate is compared with a plain baseline fitted on exactly its training
rows (with their sample weights, when the row budget sampled negatives) and scored on exactly
its holdout rows: standardized numerics (median-imputed, with missing indicators, since missing
values are common in the sources) and one-hot categoricals into ``LogisticRegression``.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.preprocessing import FeatureSpec

log = logging.getLogger(__name__)
MAX_ITER = 1000


@dataclass(frozen=True)
class BaselineScore:
    """The baseline's holdout ROC-AUC, what it cost and how many rows it learned from."""

    roc_auc: float
    fit_seconds: float
    train_rows: int


def baseline_pipeline(spec: FeatureSpec) -> Pipeline:
    """Standardized, imputed numerics + one-hot categoricals → logistic regression."""
    numeric = [name for name in spec.names if name not in spec.categories]
    categorical = [name for name in spec.names if name in spec.categories]
    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    # an all-missing column is kept (as 0 plus its indicator), not dropped with
                    # a warning: the matrix has one shape whatever the rows
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=MAX_ITER))


def score_baseline(
    train: tuple[pd.DataFrame, np.ndarray],
    holdout: tuple[pd.DataFrame, np.ndarray],
    *,
    spec: FeatureSpec,
    weight: np.ndarray | None = None,
) -> BaselineScore:
    """Fit the baseline on ``train`` (model matrix, labels; rows weighted by ``weight``) and
    return its ROC-AUC on ``holdout``: the candidate's own rows, so the two AUCs compare."""
    (x_train, y_train), (x_holdout, y_holdout) = train, holdout
    started = time.perf_counter()
    pipeline = baseline_pipeline(spec)
    with warnings.catch_warnings():
        # a slow convergence still yields a fitted (if weaker) baseline: the bar is then lower,
        # never made up; the log says so
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(x_train, y_train, logisticregression__sample_weight=weight)
    seconds = time.perf_counter() - started
    iterations = int(np.max(pipeline[-1].n_iter_))
    auc = float(roc_auc_score(y_holdout, pipeline.predict_proba(x_holdout)[:, 1]))
    log.info(
        "baseline (logistic regression): holdout roc_auc %.4f, fit on %d rows in %.1f s%s",
        auc,
        len(y_train),
        seconds,
        " (stopped at max_iter before converging)" if iterations >= MAX_ITER else "",
    )
    return BaselineScore(roc_auc=auc, fit_seconds=seconds, train_rows=len(y_train))
