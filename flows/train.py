"""Flow ``train``: training set → XGBoost → out-of-time evaluation → MLflow → registry → gate.

``python -m flows.train --help``. Returns a summary (run id, model version, holdout metrics, gate
decision) and attaches it to the flow run as a markdown artifact.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from prefect import flow

from core.names import (
    DEFAULT_MAX_CUTOFFS,
    DEFAULT_MIN_BASELINE_GAIN,
    DEFAULT_MIN_GAIN,
    DEFAULT_MODEL_NAME,
)
from core.settings import Settings
from ops.cli import flow_main, flow_option
from ops.params import (
    AucFloor,
    AucGain,
    AucTolerance,
    BaselineGain,
    Count,
    CountOrZero,
    HorizonDays,
    ModelName,
    PastMoment,
    TrialCount,
)


@flow(name="train")
def train(
    model_name: ModelName = DEFAULT_MODEL_NAME,
    horizon_days: HorizonDays | None = None,
    min_auc: AucFloor | None = None,
    tolerance: AucTolerance = 0.01,
    min_gain: AucGain = DEFAULT_MIN_GAIN,
    min_baseline_gain: BaselineGain = DEFAULT_MIN_BASELINE_GAIN,
    n_trials: TrialCount = 0,
    cutoffs: list[PastMoment] | None = None,
    max_cutoffs: Count | None = DEFAULT_MAX_CUTOFFS,
    max_train_rows: CountOrZero | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` (a built-in definition, ``tasks.definitions``) on earlier cutoffs,
    evaluate on the latest elapsed one, register and gate it."""
    # The stage code (mlflow, xgboost, scikit-learn: ~9 s of imports) loads when the flow runs,
    # not with this module, so a bad parameter is refused in ~2 s (see ops/cli.py).
    from tasks.definitions import get_definition
    from tasks.deploy.steps import build_champion_bento
    from tasks.monitoring.steps import record_promoted_reference
    from tasks.registry import release_model
    from tasks.stores import prepare_stores_task
    from tasks.training import (
        evaluate_model,
        load_feature_spec,
        load_training_set,
        publish_training_summary,
        train_model,
    )
    from tasks.training.dask_fit import dask_configured
    from tasks.training.dask_steps import train_model_dask

    definition = get_definition(model_name)  # an unknown name fails here, before any work
    prepare_stores_task()
    horizon = horizon_days or definition.horizon_days
    spec = load_feature_spec(model_name)
    frame = load_training_set(
        model_name=model_name,
        horizon_days=horizon,
        cutoffs=cutoffs,
        max_cutoffs=max_cutoffs,
        max_train_rows=max_train_rows,  # None: CHURN_TRAIN_MAX_ROWS
    )
    # xgboost.dask on the configured cluster when CHURN_TASK_RUNNER=dask / CHURN_DASK_ADDRESS
    fit = train_model_dask if dask_configured() else train_model
    trained = fit(frame, spec=spec, horizon_days=horizon, n_trials=n_trials)
    evaluation = evaluate_model(trained, frame)
    candidate = release_model(
        trained,
        evaluation,
        frame,
        model_name=model_name,
        horizon_days=horizon,
        min_auc=min_auc,
        tolerance=tolerance,
        min_gain=min_gain,
        min_baseline_gain=min_baseline_gain,
    )
    decision = candidate.decision
    summary = publish_training_summary(trained, evaluation, candidate.logged, decision, model_name)
    if decision.decision == "promoted":  # a new champion gets its bento (model baked in)
        bento = build_champion_bento(decision.version, model_name)
        summary["bento"], summary["bento_build_s"] = bento.tag, bento.seconds
        # and its drift reference: the population it is promoted on, not its older holdout
        record_promoted_reference(model_name, decision.version)
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.train",
        description="Train, evaluate out of time, log to MLflow, register and gate the model.",
    )
    settings = Settings.model_fields
    flow_option(
        parser,
        train,
        "model_name",
        help="registered model of a built-in definition: churn-model, churn-model-90d",
    )
    flow_option(
        parser,
        train,
        "horizon_days",
        type=int,
        help="label horizon in days, ≥ 1",
        when_none=f"the definition's ({settings['horizon_days'].default} for churn-model)",
    )
    flow_option(
        parser,
        train,
        "min_auc",
        type=float,
        help="absolute holdout ROC-AUC floor for every candidate, in (0.5, 1]",
        when_none="none",
    )
    flow_option(
        parser, train, "tolerance", type=float, help="allowed AUC drop vs the champion, ≥ 0"
    )
    flow_option(
        parser,
        train,
        "min_gain",
        type=float,
        help="AUC a candidate trained on the champion's data must gain over it, ≥ 0",
    )
    flow_option(
        parser,
        train,
        "min_baseline_gain",
        type=float,
        help="AUC a first model must gain over a logistic regression on the same split, in"
        " [-0.5, 0.5] (negative: it may trail it)",
    )
    flow_option(parser, train, "n_trials", type=int, help="random-search trials (0: none)")
    flow_option(
        parser,
        train,
        "cutoffs",
        type=lambda s: [datetime.fromisoformat(x) for x in s.split(",")],
        help="comma-separated ISO cutoffs in the past",
        when_none="the latest --max-cutoffs ones",
    )
    flow_option(
        parser,
        train,
        "max_cutoffs",
        type=lambda s: int(s) or None,  # 0: all
        help="use the latest N available cutoffs when --cutoffs is not given (0: all)",
    )
    flow_option(
        parser,
        train,
        "max_train_rows",
        type=int,
        help="row budget of the train cutoffs: beyond it their negatives are sampled and "
        "weighted (0: no limit)",
        when_none=f"CHURN_TRAIN_MAX_ROWS, {settings['train_max_rows'].default}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the flow once with the given parameters and print its summary."""
    return flow_main(train, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
