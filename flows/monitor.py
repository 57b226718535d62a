"""Flow ``monitor``: drift, data quality, delayed-label performance and business figures for
a model's champion (``model_name``: ``churn-model`` or a declared source's ``churn-<name>``);
Evidently reports into the workspace (one project per model) and ``$CHURN_HOME/reports``; figures
into ``monitoring_metrics``, a Prometheus textfile and Prefect artifacts; and the
``churn.retrain.requested`` event for that model when drift persists or performance falls.

``python -m flows.monitor --help``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Any

from prefect import flow

from core.names import DEFAULT_MODEL_NAME
from ops.cli import flow_main, flow_option
from ops.params import (
    Count,
    CountOrZero,
    ModelName,
    NaiveUtc,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    Share,
)


@flow(name="monitor", flow_run_name="monitor-{model_name}")
def monitor(
    model_name: ModelName = DEFAULT_MODEL_NAME,
    window_hours: PositiveFloat = 24.0,
    window_end: NaiveUtc | None = None,
    backfill_cutoffs: CountOrZero = 0,
    drift_share: Share = 0.2,
    k_runs: Count = 3,
    min_roc_auc: Probability = 0.70,
    min_labelled: Count = 200,
    cooldown_days: NonNegativeFloat = 7.0,
    performance_days: Count = 120,
    sample_rows: Count = 20_000,
    reports: bool = True,
    quality_report: bool = True,
) -> dict[str, Any]:
    """Observe the model's window against its champion's reference; report; maybe ask to
    retrain it.

    The window is fixed: the ``window_hours`` interval on the UTC grid that holds the run's
    time (24 h: the UTC day so far), or the one ending at ``window_end``. Monitoring a window
    again replaces its result (reports, figures, verdict): ``k_runs`` counts distinct windows.
    """
    # Evidently, mlflow and xgboost (~15 s of imports) load when the flow runs, not with this
    # module, so a bad parameter is refused at once.
    from monitoring.trigger import TriggerPolicy
    from tasks.modeldata.steps import resolve_model
    from tasks.monitoring.steps import (
        analyse_window,
        backfill,
        decide,
        load_reference,
        monitor_lock,
        observe_window,
        record,
        request_retrain,
        start_run,
    )
    from tasks.stores import prepare_stores_task

    policy = TriggerPolicy(
        k_runs=k_runs,
        min_roc_auc=min_roc_auc,
        min_labelled=min_labelled,
        cooldown=timedelta(days=cooldown_days),
    )
    prepare_stores_task()  # a store that does not answer is reported as such, first
    data = resolve_model(model_name, as_served=True)
    ctx = start_run(data, window_hours=window_hours, window_end=window_end)
    reference = load_reference(data)
    if backfill_cutoffs:
        backfill(reference, data, cutoffs=backfill_cutoffs)
    observed = observe_window(reference, data, ctx)
    analysis = analyse_window(
        observed, reference, data, ctx, drift_share=drift_share, performance_days=performance_days
    )
    # one run at a time decides and records a model's windows: a window monitored twice at once
    # would otherwise count twice, or keep both results
    with monitor_lock(model_name):
        decision = decide(analysis, reference, ctx, policy)
        request_retrain(decision, reference)
        return record(
            observed,
            reference,
            data,
            analysis,
            decision,
            ctx,
            sample_rows=sample_rows,
            reports=reports,
            quality_report=quality_report,
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.monitor",
        description="Monitor a model's champion: drift, quality, performance, business; maybe"
        " retrain.",
    )
    flow_option(
        parser,
        monitor,
        "model_name",
        help="churn-model, churn-model-90d, or churn-<name> of a declared source",
    )
    for name, kind, text in (
        ("window_hours", float, "length of the monitored window, > 0 (24: the UTC day)"),
        (
            "backfill_cutoffs",
            int,
            "first score the latest N elapsed cutoffs with the champion (request_id backfill-…)",
        ),
        ("drift_share", float, "share of drifted features that is drift"),
        ("k_runs", int, "consecutive drifted runs before a retrain"),
        ("min_roc_auc", float, "retrain below this ROC-AUC"),
        ("min_labelled", int, "labelled predictions needed"),
        ("cooldown_days", float, "no retrain within this"),
        ("performance_days", int, "labelled predictions of the last N days"),
        ("sample_rows", int, "rows in Evidently reports"),
    ):
        flow_option(parser, monitor, name, type=kind, help=text)
    flow_option(
        parser,
        monitor,
        "window_end",
        type=datetime.fromisoformat,
        help="end of the window to monitor, ISO date-time in UTC",
        when_none="the window of --window-hours on the UTC grid that holds now",
    )
    flow_option(
        parser,
        monitor,
        "reports",
        "--no-reports",
        action="store_false",
        help="figures and decision only, no Evidently reports",
    )
    flow_option(
        parser,
        monitor,
        "quality_report",
        "--no-quality-report",
        action="store_false",
        help="no Evidently data summary report (quality figures are still computed)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: one monitoring run; prints its summary."""
    return flow_main(monitor, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
