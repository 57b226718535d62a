"""Flow ``retrain``: the whole loop for one model, each stage a subflow visible in the Prefect UI.

``churn-model``: ingest (every source concurrently, wait for all) → build_features → train
(out-of-time holdout, evaluation gate) → deploy (bento) if the gate promoted → monitor.
A declared source's ``churn-<name>``: the ``table`` flow on the spec file its source was last
ingested from (re-ingest the spec's files, features, train, gate) → deploy if promoted → monitor.
Then a markdown artifact of what ran, what was promoted and why, with links. Started weekly, by
hand, or by the monitoring event ``churn.retrain.requested`` for the model it names.
CLI: ``python -m flows.retrain --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prefect import flow

from core.names import DEFAULT_MODEL_NAME
from flows.build_features import build_features
from flows.declare import declare
from flows.ingest import SourceNames, ingest
from flows.monitor import monitor
from flows.train import train
from ops.cli import flow_default, flow_main, flow_option
from ops.params import (
    AucFloor,
    AucTolerance,
    BaselineGain,
    Count,
    CountOrZero,
    ModelName,
    TrialCount,
)
from ops.runtime import make_task_runner, notify_failure
from tasks.orchestration import StageRecord, stage_summary, train_and_deploy_stages

T = TypeVar("T")


def _timed(name: str, run: Callable[[], T], detail: Callable[[T], str]) -> tuple[T, StageRecord]:
    started = time.perf_counter()
    result = run()
    return result, StageRecord(name, "completed", time.perf_counter() - started, detail(result))


@flow(name="retrain", flow_run_name="retrain-{model_name}", on_failure=[notify_failure])
def retrain(
    reason: str = "manual run",
    model_name: ModelName = DEFAULT_MODEL_NAME,
    sources: SourceNames | None = None,
    min_auc: AucFloor | None = None,
    tolerance: AucTolerance | None = None,
    min_baseline_gain: BaselineGain | None = None,
    n_trials: TrialCount | None = None,
    max_cutoffs: Count | None = None,
    max_train_rows: CountOrZero | None = None,
) -> dict[str, Any]:
    """Ingest → features → train + gate → deploy if promoted → monitor, for ``model_name``.
    ``None`` parameters take the stage flow's own default (one place: the stage flow's
    signature); ``sources``, ``n_trials``, ``max_cutoffs`` and ``max_train_rows`` are the
    built-in model's only."""
    from tasks.modeldata import is_builtin
    from tasks.orchestration.steps import publish_retrain_report  # loads mlflow

    gate = _given(min_auc=min_auc, tolerance=tolerance, min_baseline_gain=min_baseline_gain)
    builtin_only = _given(
        sources=sources, n_trials=n_trials, max_cutoffs=max_cutoffs, max_train_rows=max_train_rows
    )
    stages: list[StageRecord] = []
    if is_builtin(model_name):
        trained = _train_builtin(stages, model_name, overrides={**gate, **builtin_only})
    elif builtin_only:
        raise ValueError(
            f"{model_name} is a declared source's model: {', '.join(sorted(builtin_only))} apply"
            f" to {DEFAULT_MODEL_NAME} only (its spec file says what to ingest and train)"
        )
    else:
        trained = _train_declared(stages, model_name=model_name, gate=gate)
    monitored, record = _timed(
        "monitor",
        lambda: monitor(model_name=model_name),
        lambda out: f"{out['verdict']} ({model_name} champion v{out['model_version']})",
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
        "model_name": model_name,
        "model_version": trained["model_version"],
        "decision": trained["decision"],
        "gate_reason": trained["reason"],
        "run_id": trained["run_id"],
        "bento_tag": trained.get("bento"),
        "monitoring": monitored["verdict"],
        "reports_index": monitored["index"],
        "stages": stage_summary(stages),
    }


def _given(**values: Any) -> dict[str, Any]:
    """The parameters that were given (None: the stage flow's own default)."""
    return {key: value for key, value in values.items() if value is not None}


def _train_builtin(
    stages: list[StageRecord], model_name: str, *, overrides: dict[str, Any]
) -> dict[str, Any]:
    """ingest → build_features → train + gate (which bakes a promoted champion's bento)."""
    sources = overrides.pop("sources", None)
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
    started = time.perf_counter()
    trained = train(model_name=model_name, **overrides)  # bakes a promoted champion's bento
    stages += train_and_deploy_stages(time.perf_counter() - started, trained)
    return trained


def _train_declared(
    stages: list[StageRecord], *, model_name: str, gate: dict[str, Any]
) -> dict[str, Any]:
    """The declare flow on the spec file the source was last ingested from (re-ingest, features,
    train, gate), then the bento of a promoted champion."""
    from tasks.declared.steps import recorded_spec_task
    from tasks.deploy.steps import build_champion_bento
    from tasks.orchestration.steps import declared_training_outcome

    spec = recorded_spec_task(model_name)
    summary, record = _timed(
        "declare",
        lambda: declare(spec=spec, **gate),
        lambda out: (
            f"{out['rows_loaded']:,} rows loaded; v{out['version']} {out['decision']}:"
            f" {out['reason']}"
        ),
    )
    stages.append(record)
    trained = declared_training_outcome(summary)
    if trained["decision"] != "promoted":
        stages.append(StageRecord("deploy", "skipped", None, "gate did not promote the model"))
        return trained
    bento = build_champion_bento(trained["model_version"], model_name)
    stages.append(StageRecord("deploy", "completed", bento.seconds, f"bento {bento.tag}"))
    return {**trained, "bento": bento.tag, "bento_build_s": bento.seconds}


_TRAIN_NONE = {"max_train_rows": "CHURN_TRAIN_MAX_ROWS"}  # what the train flow's None means


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.retrain",
        description="Ingest, build features, train + gate, deploy if promoted, monitor.",
    )
    flow_option(parser, retrain, "reason", help="recorded in the report")
    flow_option(
        parser,
        retrain,
        "model_name",
        help="churn-model, churn-model-90d, or churn-<name> of a declared source (its spec's"
        " files are re-ingested)",
    )
    flow_option(parser, retrain, "sources", nargs="+", help="sources to ingest", when_none="all")
    for name, kind, text in (
        ("min_auc", float, "absolute ROC-AUC floor"),
        ("tolerance", float, "allowed AUC drop vs the champion"),
        ("min_baseline_gain", float, "AUC a first model must gain over the logistic baseline"),
        ("n_trials", int, "random-search trials"),
        ("max_cutoffs", int, "latest N monthly cutoffs to train on"),
        ("max_train_rows", int, "row budget of the train cutoffs (0: no limit)"),
    ):  # None: the train flow's own default, shown from its signature
        default = flow_default(train, name)
        shown = _TRAIN_NONE.get(name, "none") if default is None else default
        flow_option(
            parser, retrain, name, type=kind, help=text, when_none=f"the train flow's, {shown}"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the loop once and print its summary."""
    return flow_main(retrain, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
