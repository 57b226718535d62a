"""Orchestration support: the retrain run's report. Importing connects to nothing."""

from tasks.orchestration.report import (
    StageRecord,
    retrain_markdown,
    stage_summary,
    train_and_deploy_stages,
)

__all__ = ["StageRecord", "retrain_markdown", "stage_summary", "train_and_deploy_stages"]
