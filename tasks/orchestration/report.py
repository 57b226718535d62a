"""The retrain run's report: what ran, what the gate decided and why, where to look next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageRecord:
    """One stage of a retrain run: its state, measured wall time and a one-line outcome."""

    name: str
    state: str  # completed | skipped | unavailable
    seconds: float | None  # None: the stage did not run, so it took no time to report
    detail: str


def train_and_deploy_stages(train_seconds: float, trained: Mapping[str, Any]) -> list[StageRecord]:
    """The train and deploy stages from the train flow's summary and its measured wall time.

    The train flow builds a promoted champion's bento and reports the build's own measured time
    (``bento_build_s``): that time is the deploy stage's, and leaves the train stage's. When the
    gate did not promote, nothing was deployed: the deploy stage is skipped, with no duration.
    """
    outcome = f"v{trained['model_version']} {trained['decision']}: {trained['reason']}"
    if trained["decision"] != "promoted":
        return [
            StageRecord("train", "completed", train_seconds, outcome),
            StageRecord("deploy", "skipped", None, "gate did not promote the model"),
        ]
    if trained.get("bento_build_s") is None or not trained.get("bento"):
        raise ValueError(
            f"train flow promoted v{trained['model_version']} but reports no bento build "
            "(summary keys 'bento', 'bento_build_s'); flows/train.py builds it on a promotion"
        )
    build_s = float(trained["bento_build_s"])
    return [
        StageRecord("train", "completed", train_seconds - build_s, outcome),
        StageRecord("deploy", "completed", build_s, f"bento {trained['bento']}"),
    ]


def stage_summary(stages: list[StageRecord]) -> dict[str, dict[str, Any]]:
    """State and seconds (2 decimals; None when the stage did not run) per stage name."""
    return {
        s.name: {"state": s.state, "seconds": None if s.seconds is None else round(s.seconds, 2)}
        for s in stages
    }


def mlflow_run_url(ui_url: str, experiment_id: str, run_id: str) -> str:
    """Link to a run in the MLflow UI."""
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def table_outcome(summary: dict[str, Any]) -> dict[str, Any]:
    """A ``table`` flow summary (a declared source's model) in the ``train`` flow's shape, which
    the retrain flow and its report read."""
    name, version = summary["model_name"], str(summary["version"])
    return {
        "model_name": name,
        "model_version": version,
        "decision": summary["decision"],
        "reason": summary["reason"],
        "run_id": summary["run_id"],
        "model_uri": f"models:/{name}/{version}",
        "metrics": {"roc_auc": summary["holdout_roc_auc"]},
    }


def retrain_markdown(
    *,
    stages: list[StageRecord],
    trained: dict[str, Any],
    reason: str,
    run_url: str | None,
    bento_tag: str | None,
    reports: list[str],
) -> str:
    """Markdown artifact of a retrain run."""
    rows = "\n".join(
        f"| {s.name} | {s.state} | {'—' if s.seconds is None else f'{s.seconds:.1f}'} | "
        f"{s.detail} |"
        for s in stages
    )
    metrics = trained.get("metrics", {})
    auc = metrics.get("roc_auc")
    run = f"[{trained['run_id']}]({run_url})" if run_url else f"`{trained['run_id']}`"
    bento = f"`{bento_tag}`" if bento_tag else "none built (see the deploy stage)"
    report_lines = "\n".join(f"- {r}" for r in reports) or "- none produced by this run"
    return (
        f"# retrain: {trained.get('model_name', 'model')} v{trained['model_version']}"
        f" **{trained['decision']}**\n\n"
        f"Triggered by: {reason}\n\n"
        f"Gate: {trained['reason']}"
        + (f" (holdout ROC-AUC {auc:.4f})" if auc is not None else "")
        + f"\n\n| stage | state | seconds | outcome |\n|---|---|---|---|\n{rows}\n\n"
        f"- MLflow run: {run}\n- Model: `{trained['model_uri']}`\n- Bento: {bento}\n"
        f"- Reports:\n{report_lines}\n"
    )
