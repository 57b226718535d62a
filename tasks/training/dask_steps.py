"""Prefect task wrapper of the Dask fit (``tasks.training.dask_fit``)."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from models.preprocessing import FeatureSpec
from tasks.training.dask_fit import dask_client, fit_model_dask
from tasks.training.fit import TrainedModel


@task(cache_policy=NONE)
def train_model_dask(
    frame: pd.DataFrame, *, spec: FeatureSpec, horizon_days: int | None = None, n_trials: int = 0
) -> TrainedModel:
    """Fit the booster with xgboost.dask on the configured cluster (no random search there)."""
    if n_trials:
        raise ValueError(
            f"n_trials={n_trials}: the random search runs single-node only; "
            "set n_trials=0 or unset CHURN_TASK_RUNNER/CHURN_DASK_ADDRESS"
        )
    with dask_client() as client:
        return fit_model_dask(frame, spec=spec, client=client, horizon_days=horizon_days)
