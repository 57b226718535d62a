"""Flow ``train``: training set → XGBoost → out-of-time evaluation → MLflow → registry → gate.

``python -m flows.train --help``. Returns a summary (run id, model version, holdout metrics, gate
decision) and attaches it to the flow run as a markdown artifact.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from typing import Any

from prefect import flow
from rich.console import Console
from rich.pretty import Pretty

from core.settings import get_settings
from tasks.deploy.steps import build_champion_bento
from tasks.registry import gate_model, register_model
from tasks.training import (
    DEFAULT_MAX_CUTOFFS,
    evaluate_model,
    load_feature_spec,
    load_training_set,
    log_training_run,
    publish_training_summary,
    train_model,
)


@flow(name="train")
def train(
    horizon_days: int | None = None,
    min_auc: float = 0.75,
    tolerance: float = 0.01,
    n_trials: int = 0,
    cutoffs: list[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
) -> dict[str, Any]:
    """Train on earlier cutoffs, evaluate on the latest elapsed one, register and gate the model."""
    horizon = horizon_days or get_settings().horizon_days
    spec = load_feature_spec()
    frame = load_training_set(horizon_days=horizon, cutoffs=cutoffs, max_cutoffs=max_cutoffs)
    trained = train_model(frame, spec=spec, horizon_days=horizon, n_trials=n_trials)
    evaluation = evaluate_model(trained, frame)
    logged = log_training_run(trained, evaluation, frame, horizon_days=horizon)
    version = register_model(
        logged, metrics=evaluation.metrics, definitions_hash=spec.definitions_hash
    )
    decision = gate_model(
        version=version,
        candidate_auc=evaluation.metrics["roc_auc"],
        holdout=evaluation.reference,
        definitions_hash=spec.definitions_hash,
        min_auc=min_auc,
        tolerance=tolerance,
    )
    summary = publish_training_summary(trained, evaluation, logged, decision)
    if decision.decision == "promoted":  # a new champion gets its bento (model baked in)
        summary["bento"] = build_champion_bento(version)
    return summary


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: run the flow once with the given parameters and print its summary."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.train",
        description="Train, evaluate out of time, log to MLflow, register and gate the model.",
    )
    parser.add_argument("--horizon-days", type=int, default=None, help="label horizon (settings)")
    parser.add_argument("--min-auc", type=float, default=0.75, help="holdout ROC-AUC floor")
    parser.add_argument(
        "--tolerance", type=float, default=0.01, help="allowed AUC drop vs the champion"
    )
    parser.add_argument("--n-trials", type=int, default=0, help="random-search trials (0: none)")
    parser.add_argument(
        "--cutoffs",
        type=lambda s: [datetime.fromisoformat(x) for x in s.split(",")],
        default=None,
        help="comma-separated ISO cutoffs (default: the latest --max-cutoffs available ones)",
    )
    parser.add_argument(
        "--max-cutoffs",
        type=int,
        default=DEFAULT_MAX_CUTOFFS,
        help="use the latest N available cutoffs when --cutoffs is not given (0: all)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    summary = train(
        horizon_days=args.horizon_days,
        min_auc=args.min_auc,
        tolerance=args.tolerance,
        n_trials=args.n_trials,
        cutoffs=args.cutoffs,
        max_cutoffs=args.max_cutoffs or None,
    )
    Console().print(Pretty(summary))


if __name__ == "__main__":
    main()
