"""The retrain run's report: what ran, what the gate decided and why, where to look next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageRecord:
    """One stage of a retrain run: its state, wall time and a one-line outcome."""

    name: str
    state: str  # completed | skipped | unavailable
    seconds: float
    detail: str


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
    rows = "\n".join(f"| {s.name} | {s.state} | {s.seconds:.1f} | {s.detail} |" for s in stages)
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
