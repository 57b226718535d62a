"""Orchestration support: the retrain run's report. Importing connects to nothing."""

from tasks.orchestration.report import StageRecord, retrain_markdown

__all__ = ["StageRecord", "retrain_markdown"]
