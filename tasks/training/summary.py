"""Summary of a training run: a dict for callers, markdown for the Prefect UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.settings import get_settings
from tasks.training.evaluation import Evaluation
from tasks.training.fit import TrainedModel
from tasks.training.tracking import LoggedRun

if TYPE_CHECKING:  # the registry imports training; training only names the registry's types
    from tasks.registry.gate import GateDecision


def summarize_training(
    trained: TrainedModel,
    evaluation: Evaluation,
    logged: LoggedRun,
    decision: GateDecision,
    *,
    model_name: str | None = None,
) -> dict[str, Any]:
    """What a training run produced and what the gate decided, JSON-ready."""
    return {
        "model_name": model_name or get_settings().model_name,
        "run_id": logged.run_id,
        "model_uri": logged.model_uri,
        "model_version": decision.version,
        "decision": decision.decision,
        "reason": decision.reason,
        "previous_champion": decision.champion_version,
        "previous_champion_auc": decision.champion_auc,
        "metrics": dict(evaluation.metrics),
        "baseline_roc_auc": decision.baseline_auc,
        "baseline_fit_s": evaluation.baseline.fit_seconds if evaluation.baseline else None,
        "valid_roc_auc": trained.fitted.valid_auc,
        "best_iteration": trained.fitted.best_iteration,
        "rows": dict(trained.rows),
        "train_negative_rate": trained.sample.negative_rate,
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
    baseline = summary.get("baseline_roc_auc")
    if baseline is not None:
        vs += f"  \nlogistic baseline on the same holdout: {baseline:.4f}"
    return (
        f"# {summary['model_name']} v{summary['model_version']}: **{summary['decision']}**\n\n"
        f"{summary['reason']}  \n{vs}\n\n"
        f"Holdout cutoff {cutoffs['cutoffs.holdout']}, validation {cutoffs['cutoffs.validation']}, "
        f"{len(cutoffs['cutoffs.train'].split(','))} training cutoffs; rows {summary['rows']}"
        f"{_sampled(summary)}.\n\n"
        f"| holdout metric | value |\n|---|---|\n{metrics}\n\n"
        f"MLflow run `{summary['run_id']}`, model `{summary['model_uri']}`.\n"
    )


def _sampled(summary: dict[str, Any]) -> str:
    rate = summary.get("train_negative_rate", 1.0)
    if rate >= 1.0:
        return ""
    return f" (train negatives sampled at {rate:.3f}, weighted {1 / rate:.2f})"
