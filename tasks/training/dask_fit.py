"""Fit the churn model with ``xgboost.dask`` on a Dask cluster: the scale-out path of training.

Same split, parameters, monotone rules, class weighting, early stopping and prior correction as
``tasks.training.fit`` / ``models.estimator.fit_booster``; the histogram building runs on the
cluster's workers, one partition each. Used when ``CHURN_TASK_RUNNER=dask`` (a local cluster) or
``CHURN_DASK_ADDRESS`` (an existing scheduler) is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dask.dataframe as dd
import numpy as np
import pandas as pd
import xgboost as xgb
from distributed import Client, LocalCluster
from xgboost import dask as dxgb

from core.settings import Settings, get_settings
from models.estimator import (
    BoosterParams,
    FittedModel,
    balance_weight,
    check_both_classes,
    keep_best_trees,
    monotone_constraints,
    xgb_config,
)
from models.preprocessing import FeatureSpec
from tasks.training.fit import TrainedModel, partition_rows, partition_xy, split_training_set
from tasks.training.sampling import sample_of

log = logging.getLogger(__name__)


def dask_configured(settings: Settings | None = None) -> bool:
    """True when training should run on Dask (``task_runner=dask`` or a scheduler address)."""
    settings = settings or get_settings()
    return settings.task_runner == "dask" or bool(settings.dask_address)


@contextmanager
def dask_client(settings: Settings | None = None) -> Iterator[Client]:
    """A client of the configured scheduler, or of a local cluster started for this fit."""
    settings = settings or get_settings()
    if settings.dask_address:
        with Client(settings.dask_address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.dask_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _partitioned(x: pd.DataFrame, y: np.ndarray, partitions: int) -> tuple[dd.DataFrame, dd.Series]:
    frame = x.reset_index(drop=True)
    labels = pd.Series(y, name="label")
    return dd.from_pandas(frame, npartitions=partitions), dd.from_pandas(
        labels, npartitions=partitions
    )


def fit_booster_dask(
    client: Client,
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    *,
    params: BoosterParams,
    seed: int,
    monotone: Mapping[str, int] | None = None,
    weight: np.ndarray | None = None,
) -> FittedModel:
    """``fit_booster`` on the cluster: train on ``train`` (rows weighted by ``weight``, default
    1), early-stop on ``valid``'s AUC."""
    x_train, y_train = train
    x_valid, y_valid = valid
    check_both_classes(y_valid)
    workers = max(1, len(client.scheduler_info()["workers"]))
    spw = balance_weight(y_train, weight)
    dx, dy = _partitioned(x_train, y_train, workers)
    vx, vy = _partitioned(x_valid, y_valid, workers)
    dw = None
    if weight is not None:
        dw = dd.from_pandas(pd.Series(weight, name="weight"), npartitions=workers)
    dtrain = dxgb.DaskQuantileDMatrix(
        client, dx, dy, weight=dw, enable_categorical=True, max_bin=params.max_bin
    )
    dvalid = dxgb.DaskQuantileDMatrix(client, vx, vy, enable_categorical=True, ref=dtrain)
    config = xgb_config(
        params,
        seed=seed,
        scale_pos_weight=spw,
        nthread=1,
        monotone=monotone_constraints(list(x_train.columns), monotone or {}),
    )
    output = dxgb.train(
        client,
        config,
        dtrain,
        num_boost_round=params.num_boost_round,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    booster: xgb.Booster = output["booster"]
    return keep_best_trees(booster, params=params, weight=spw, valid=valid)


def fit_model_dask(
    frame: pd.DataFrame,
    *,
    spec: FeatureSpec,
    client: Client,
    horizon_days: int | None = None,
    n_valid: int = 1,
    seed: int | None = None,
) -> TrainedModel:
    """``fit_model`` with the booster fitted on the Dask cluster (base parameters, no search)."""
    split = split_training_set(frame, horizon_days=horizon_days, n_valid=n_valid)  # as single-node
    seed = get_settings().seed if seed is None else seed
    x_train, y_train, weight = partition_xy(frame, split.train, spec)
    x_valid, y_valid, _ = partition_xy(frame, split.valid, spec)  # unweighted, as single-node
    fitted = fit_booster_dask(
        client,
        (x_train, y_train),
        (x_valid, y_valid),
        params=BoosterParams(),
        seed=seed,
        monotone=spec.monotone,
        weight=weight,
    )
    log.info(
        "trained on Dask (%d workers) on %d rows, validated on %d: valid AUC %.4f at %d trees",
        len(client.scheduler_info()["workers"]),
        len(y_train),
        len(y_valid),
        fitted.valid_auc,
        fitted.best_iteration + 1,
    )
    return TrainedModel(
        fitted=fitted,
        trials=(fitted,),
        spec=spec,
        split=split,
        seed=seed,
        rows=partition_rows(frame, split),
        sample=sample_of(frame),
    )
