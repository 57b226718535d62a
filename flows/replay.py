"""``make replay``: months of operation after the demo's first champion, week by week.

The simulator simulates the history and the months ahead once (same seed, same history; a price
shock from ``--drift-month``). Then time moves a week at a time on one clock (``core.clock``, read
by every process of the home): the week's exports are revealed, and the flow ``replay-week``
runs ingest → build_features → score_batch → traffic against the running BentoML API →
monitor as subflows. Persistent drift makes monitoring emit ``churn.retrain.requested``; the
deployment trigger starts ``retrain-weekly`` on the worker, the gate decides; the replay waits for
that run, then for the API to answer with a promoted version. It ends with the timeline
(Prefect artifact ``replay-timeline``, ``$CHURN_HOME/reports/replay-timeline.png``).
``python -m flows.replay --help``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from prefect import flow

from flows.build_features import build_features
from flows.ingest import ingest
from flows.monitor import monitor
from flows.score_batch import score_batch
from ops.params import Count, NaiveUtc, NonNegativeFloat

_OPTIONS: tuple[tuple[str, type, Any, str], ...] = (
    ("months", int, 6, "simulated months to replay after the history"),
    ("drift_month", int, 3, "1-based month of the replay in which the price shock starts"),
    ("seed", int, 42, "simulation and traffic seed"),
    ("customers", int, 5000, "initial customer base of the simulation"),
    ("history_months", int, 18, "months of history the first champion is trained on"),
    ("traffic", int, 1000, "customers asked of the API per simulated week"),
    ("k_runs", int, 3, "consecutive drifted weeks before a retrain is requested"),
    ("cooldown_days", float, 21.0, "no second retrain request within this (simulated days)"),
    ("retrain_timeout", float, 900.0, "seconds to wait for the triggered retrain run"),
    ("rollout_timeout", float, 60.0, "seconds to wait for the API to serve a promoted version"),
)


@flow(name="replay-week", flow_run_name="replay-week-{week}")
def replay_week(
    week: Count,
    until: NaiveUtc,
    history: str,
    api_url: str,
    seed: int,
    traffic: Count,
    k_runs: Count,
    cooldown_days: NonNegativeFloat,
) -> dict[str, Any]:
    """One simulated week ending at ``until`` (the clock already reads it)."""
    from tasks.replay.steps import drift_figures, reveal_exports, send_week_traffic

    reveal_exports(history, until)
    # the month files of the months since the last week are re-read: they grew since
    since = (until - timedelta(days=7)).replace(day=1, hour=0, minute=0, second=0)
    ingest(window_start=since - timedelta(seconds=1))
    features = build_features()
    score_batch()
    sent = send_week_traffic(api_url, seed=seed, week=week, customers=traffic, at=until)
    monitored = monitor(
        window_hours=168.0,
        window_end=until + timedelta(days=1),  # the week ends with its traffic day
        k_runs=k_runs,
        cooldown_days=cooldown_days,
        quality_report=False,  # the dashboard's points are drift and performance; see docs
    )
    figures = drift_figures(monitored["run_id"])
    return {
        "data_as_of": features["as_of"],
        "drift_share": figures.get("drift.share"),
        "drift": bool(figures.get("drift.detected")),
        "roc_auc": monitored["performance"].get("performance.roc_auc"),
        "labelled": int(monitored["performance"].get("performance.labelled", 0)),
        "served": sent.served,
        "champion": str(monitored["model_version"]),
        "requests": sent.requests,
        "failed": sent.failed,
        "retrain_requested": bool(monitored["retrain_requested"]),
        "decision": monitored["decision"],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.replay",
        description="Replay months of operation week by week on the local platform (Prefect "
        "server + worker, BentoML API), with drift, retrain and gate; ends with a timeline.",
    )
    for name, kind, default, text in _OPTIONS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=default,
            help=f"{text} (default: {default})",
        )
    return parser


def _run(args: argparse.Namespace) -> int:
    import logging
    import os
    import time

    from rich.console import Console

    from core.settings import get_settings
    from core.stores import prepare_stores
    from ops.server import prefect_env, using_server

    console, settings, started = Console(), get_settings(), time.perf_counter()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    prepare_stores(settings)
    for key, value in prefect_env(settings).items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tasks,flows,models,simulator")
    with using_server():  # this home's server, for the flows and the replay's own API calls
        return _replay(args, settings, console, started)


def _replay(args: argparse.Namespace, settings: Any, console: Any, started: float) -> int:
    import os
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from core.clock import CHECK_EVERY_S, set_clock, wall_now
    from ops.cli import run_flow
    from ops.replay import schedules_paused, start_platform, wait_for_retrain, wait_served
    from tasks.replay.history import prepare_history
    from tasks.replay.timeline import WeekRow, week_ends

    plan = prepare_history(args, home=settings.home.resolve(), console=console)
    if plan.needs_champion:
        from flows.demo import train_first_champion

        train_first_champion()
    url = start_platform(
        prefect_port=settings.prefect_port,
        mlflow_port=settings.mlflow_port,
        evidently_port=settings.evidently_port,
        bento_port=int(os.environ.get("PORT", "3000")),
    )
    weeks, rows = week_ends(plan.start, plan.end), []
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with schedules_paused(), Progress("{task.description}", *columns) as bar:
            task = bar.add_task("replaying", total=len(weeks))
            for week, until in enumerate(weeks, start=1):
                bar.update(task, description=f"week {week}: {until:%Y-%m-%d}")
                set_clock(until)
                time.sleep(2 * CHECK_EVERY_S)  # every process of the home reads it by now
                clock, asked = time.perf_counter(), wall_now()
                out = run_flow(
                    replay_week,
                    {
                        "week": week,
                        "until": until,
                        "history": str(plan.history),
                        "api_url": url,
                        "seed": args.seed,
                        "traffic": args.traffic,
                        "k_runs": args.k_runs,
                        "cooldown_days": args.cooldown_days,
                    },
                )
                if out["retrain_requested"]:
                    outcome = wait_for_retrain(
                        requested_after=asked, timeout_s=args.retrain_timeout
                    )
                    out["decision"] += (
                        f"; retrain {outcome.flow_run} {outcome.state}: v{outcome.version}"
                        f" {outcome.decision} ({outcome.reason})"
                    )
                    if outcome.decision == "promoted" and outcome.version:
                        out["champion"] = outcome.version
                        served = wait_served(
                            url, plan.probe_id, outcome.version, timeout_s=args.rollout_timeout
                        )
                        out["decision"] += f"; API serves v{served} after the promotion"
                row = WeekRow(
                    week=week, until=until, wall_s=round(time.perf_counter() - clock, 1), **out
                )
                rows.append(row)
                console.log(
                    f"week {week} ({until:%Y-%m-%d}): drift {row.drift} ({row.drift_share}),"
                    f" ROC-AUC {row.roc_auc}, served v{row.served}, {row.failed} failed;"
                    f" {row.decision}"
                )
                bar.advance(task)
        from flows.replay_report import replay_report

        path = run_flow(replay_report, {"rows": rows, "drift_from": plan.drift_from})
    finally:
        set_clock(None)  # wall time again for this home
    console.print(
        f"{len(rows)} weeks in {time.perf_counter() - started:.0f} s; timeline: Prefect artifact"
        f" replay-timeline, {path}; the platform keeps running (make down stops it)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``make replay``)."""
    from core.cli import run_cli

    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
