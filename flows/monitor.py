"""Flow ``monitor``: drift, data quality, delayed-label performance and business figures for
the champion; Evidently reports into the workspace and ``$CHURN_HOME/reports``; figures into
``monitoring_metrics``, a Prometheus textfile and Prefect artifacts; and the
``churn.retrain.requested`` event when drift persists or performance falls.

``python -m flows.monitor --help``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta
from typing import Any

from prefect import flow
from rich.console import Console
from rich.pretty import Pretty

from core.settings import get_settings
from monitoring.trigger import TriggerPolicy
from tasks.monitoring.steps import (
    analyse_window,
    backfill,
    decide,
    load_reference,
    observe_window,
    record,
    request_retrain,
    start_run,
)


@flow(name="monitor")
def monitor(
    window_hours: float = 24.0,
    backfill_cutoffs: int = 0,
    drift_share: float = 0.2,
    k_runs: int = 3,
    min_roc_auc: float = 0.70,
    min_labelled: int = 200,
    cooldown_days: float = 7.0,
    performance_days: int = 120,
    sample_rows: int = 20_000,
    reports: bool = True,
) -> dict[str, Any]:
    """Observe the last window against the champion's reference; report; maybe ask to retrain."""
    horizon = get_settings().horizon_days
    policy = TriggerPolicy(
        k_runs=k_runs,
        min_roc_auc=min_roc_auc,
        min_labelled=min_labelled,
        cooldown=timedelta(days=cooldown_days),
    )
    ctx = start_run()
    reference = load_reference()
    if backfill_cutoffs:
        backfill(reference, cutoffs=backfill_cutoffs, horizon_days=horizon)
    observed = observe_window(reference, window_hours=window_hours)
    analysis = analyse_window(
        observed,
        reference,
        ctx,
        horizon_days=horizon,
        drift_share=drift_share,
        performance_days=performance_days,
    )
    decision = decide(analysis, reference, ctx, policy)
    request_retrain(decision, reference)
    return record(
        observed, reference, analysis, decision, ctx, sample_rows=sample_rows, reports=reports
    )


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: one monitoring run; prints its summary."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.monitor",
        description="Monitor the champion: drift, quality, performance, business; maybe retrain.",
    )
    parser.add_argument(
        "--window-hours", type=float, default=24.0, help="served predictions to look at"
    )
    parser.add_argument(
        "--backfill-cutoffs",
        type=int,
        default=0,
        help="first score the latest N elapsed cutoffs with the champion (request_id backfill-…)",
    )
    parser.add_argument(
        "--drift-share", type=float, default=0.2, help="share of drifted features that is drift"
    )
    parser.add_argument(
        "--k-runs", type=int, default=3, help="consecutive drifted runs before a retrain"
    )
    parser.add_argument(
        "--min-roc-auc", type=float, default=0.70, help="retrain below this ROC-AUC"
    )
    parser.add_argument("--min-labelled", type=int, default=200, help="labelled predictions needed")
    parser.add_argument("--cooldown-days", type=float, default=7.0, help="no retrain within this")
    parser.add_argument("--sample-rows", type=int, default=20_000, help="rows in Evidently reports")
    parser.add_argument(
        "--no-reports", action="store_true", help="figures and decision only, no Evidently reports"
    )
    parser.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        summary = monitor(
            window_hours=args.window_hours,
            backfill_cutoffs=args.backfill_cutoffs,
            drift_share=args.drift_share,
            k_runs=args.k_runs,
            min_roc_auc=args.min_roc_auc,
            min_labelled=args.min_labelled,
            cooldown_days=args.cooldown_days,
            sample_rows=args.sample_rows,
            reports=not args.no_reports,
        )
    except (RuntimeError, ValueError) as exc:
        if args.verbose:
            raise
        print(f"monitor failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    Console().print(Pretty(summary))


if __name__ == "__main__":
    main()
