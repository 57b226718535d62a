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
from ops.cli import flow_main
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.retrain",
        description="Ingest, build features, train + gate, deploy if promoted, monitor.",
    )
    parser.add_argument("--reason", default="manual run", help="recorded in the report")
    parser.add_argument("--sources", nargs="+", help="sources to ingest (default: all)")
    parser.add_argument("--min-auc", type=float, help="gate floor (default: the train flow's)")
    parser.add_argument("--tolerance", type=float, help="allowed AUC drop vs the champion")
    parser.add_argument("--n-trials", type=int, help="random-search trials")
    parser.add_argument("--max-cutoffs", type=int, help="latest N monthly cutoffs to train on")
    parser.add_argument(
        "--max-train-rows",
        type=int,
        help="row budget of the train cutoffs (default: CHURN_TRAIN_MAX_ROWS; 0: no limit)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the loop once and print its summary."""
    return flow_main(retrain, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
