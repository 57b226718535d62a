"""Flow ``retrain``: the whole loop, each stage a subflow visible in the Prefect UI.

ingest (every source concurrently, wait for all) → build_features → train (out-of-time holdout,
evaluation gate) → deploy (bento) if the gate promoted → monitor, then a markdown artifact of
what ran, what was promoted and why, with links. Started weekly, by hand, or by the monitoring
event ``churn.retrain.requested``. CLI: ``python -m flows.retrain --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prefect import flow

from flows.build_features import build_features
from flows.ingest import SourceNames, ingest
from flows.monitor import monitor
from flows.train import train
from ops.cli import flow_default, flow_main, flow_option
from ops.params import AucFloor, AucTolerance, Count, CountOrZero, TrialCount
from ops.runtime import make_task_runner, notify_failure
from tasks.orchestration import StageRecord, stage_summary, train_and_deploy_stages

T = TypeVar("T")


def _timed(name: str, run: Callable[[], T], detail: Callable[[T], str]) -> tuple[T, StageRecord]:
    started = time.perf_counter()
    result = run()
    return result, StageRecord(name, "completed", time.perf_counter() - started, detail(result))


@flow(name="retrain", on_failure=[notify_failure])
def retrain(
    reason: str = "manual run",
    sources: SourceNames | None = None,
    min_auc: AucFloor | None = None,
    tolerance: AucTolerance | None = None,
    n_trials: TrialCount | None = None,
    max_cutoffs: Count | None = None,
    max_train_rows: CountOrZero | None = None,
) -> dict[str, Any]:
    """Ingest → features → train + gate → deploy if promoted → monitor. ``None`` parameters take
    the stage flow's own default (one place: the stage flow's signature)."""
    from tasks.orchestration.steps import publish_retrain_report  # loads mlflow

    stages: list[StageRecord] = []
    _, record = _timed(
        "ingest",
        lambda: ingest.with_options(task_runner=make_task_runner())(sources=sources),
        lambda results: ", ".join(f"{r.source}: {r.rows_loaded:,} rows" for r in results),
    )
    stages.append(record)
    _, record = _timed(
        "build_features",
        build_features,
        lambda out: f"{out['rows']:,} customers as of {out['as_of']}",
    )
    stages.append(record)
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "min_auc": min_auc,
            "tolerance": tolerance,
            "n_trials": n_trials,
            "max_cutoffs": max_cutoffs,
            "max_train_rows": max_train_rows,
        }.items()
        if value is not None
    }
    started = time.perf_counter()
    trained = train(**overrides)  # bakes a promoted champion into its bento (tasks.deploy)
    stages += train_and_deploy_stages(time.perf_counter() - started, trained)
    monitored, record = _timed(
        "monitor",
        monitor,
        lambda out: f"{out['verdict']} (champion v{out['model_version']})",
    )
    stages.append(record)
    publish_retrain_report(
        stages=stages,
        trained=trained,
        reason=reason,
        bento_tag=trained.get("bento"),
        reports=[monitored["index"], *monitored["reports"].values()],
    )
    return {
        "reason": reason,
        "model_version": trained["model_version"],
        "decision": trained["decision"],
        "gate_reason": trained["reason"],
        "run_id": trained["run_id"],
        "bento_tag": trained.get("bento"),
        "monitoring": monitored["verdict"],
        "reports_index": monitored["index"],
        "stages": stage_summary(stages),
    }


_TRAIN_NONE = {"max_train_rows": "CHURN_TRAIN_MAX_ROWS"}  # what the train flow's None means


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.retrain",
        description="Ingest, build features, train + gate, deploy if promoted, monitor.",
    )
    flow_option(parser, retrain, "reason", help="recorded in the report")
    flow_option(parser, retrain, "sources", nargs="+", help="sources to ingest", when_none="all")
    for name, kind, text in (
        ("min_auc", float, "gate floor"),
        ("tolerance", float, "allowed AUC drop vs the champion"),
        ("n_trials", int, "random-search trials"),
        ("max_cutoffs", int, "latest N monthly cutoffs to train on"),
        ("max_train_rows", int, "row budget of the train cutoffs (0: no limit)"),
    ):  # None: the train flow's own default, shown from its signature
        default = flow_default(train, name)
        shown = _TRAIN_NONE[name] if default is None else default
        flow_option(
            parser, retrain, name, type=kind, help=text, when_none=f"the train flow's, {shown}"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the loop once and print its summary."""
    return flow_main(retrain, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
