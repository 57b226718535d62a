"""Summaries of training and rollback runs: a dict for callers, markdown for the Prefect UI."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from tasks.evaluation import Evaluation
from tasks.registry import GateDecision, Rollback
from tasks.tracking import LoggedRun
from tasks.training import TrainedModel


def summarize_training(
    trained: TrainedModel, evaluation: Evaluation, logged: LoggedRun, decision: GateDecision
) -> dict[str, Any]:
    """What a training run produced and what the gate decided, JSON-ready."""
    return {
        "run_id": logged.run_id,
        "model_uri": logged.model_uri,
        "model_version": decision.version,
        "decision": decision.decision,
        "reason": decision.reason,
        "previous_champion": decision.champion_version,
        "previous_champion_auc": decision.champion_auc,
        "metrics": dict(evaluation.metrics),
        "valid_roc_auc": trained.fitted.valid_auc,
        "best_iteration": trained.fitted.best_iteration,
        "rows": dict(trained.rows),
        "cutoffs": trained.split.as_tags(),
        "definitions_hash": trained.spec.definitions_hash,
    }


def training_markdown(summary: dict[str, Any]) -> str:
    """Markdown table of holdout metrics plus the gate decision."""
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in summary["metrics"].items())
    champion = summary["previous_champion"]
    champion_auc = summary["previous_champion_auc"]
    vs = (
        f"previous champion v{champion} re-scored: {champion_auc:.4f}"
        if champion_auc is not None
        else f"previous champion: {champion or 'none'}"
    )
    cutoffs = summary["cutoffs"]
    return (
        f"# churn-model v{summary['model_version']}: **{summary['decision']}**\n\n"
        f"{summary['reason']}  \n{vs}\n\n"
        f"Holdout cutoff {cutoffs['cutoffs.holdout']}, validation {cutoffs['cutoffs.validation']}, "
        f"{len(cutoffs['cutoffs.train'].split(','))} training cutoffs; rows {summary['rows']}.\n\n"
        f"| holdout metric | value |\n|---|---|\n{metrics}\n\n"
        f"MLflow run `{summary['run_id']}`, model `{summary['model_uri']}`.\n"
    )


@task(cache_policy=NONE)
def publish_training_summary(
    trained: TrainedModel, evaluation: Evaluation, logged: LoggedRun, decision: GateDecision
) -> dict[str, Any]:
    """Build the run summary and attach it to the flow run as a markdown artifact."""
    summary = summarize_training(trained, evaluation, logged, decision)
    create_markdown_artifact(
        key="train-summary",
        markdown=training_markdown(summary),
        description=f"churn-model v{decision.version}: {decision.decision}",
    )
    return summary


@task(cache_policy=NONE)
def publish_rollback_summary(rollback: Rollback) -> dict[str, str]:
    """Attach a markdown note of the rollback to the flow run; return it as a dict."""
    create_markdown_artifact(
        key="rollback",
        markdown=(
            f"# champion rolled back: v{rollback.from_version} → v{rollback.to_version}\n\n"
            f"Reason: {rollback.reason}\n"
        ),
        description=f"champion v{rollback.from_version} -> v{rollback.to_version}",
    )
    return {
        "from_version": rollback.from_version,
        "to_version": rollback.to_version,
        "reason": rollback.reason,
    }
