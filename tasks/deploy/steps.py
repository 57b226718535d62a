"""Thin Prefect task around the bento build: the train and retrain flows call it after a
promotion."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from tasks.deploy.build import build_bento


@task(cache_policy=NONE)
def build_champion_bento(model_version: str, model_name: str | None = None) -> str:
    """Build (or reuse) the bento serving version ``model_version`` of ``model_name`` (default:
    churn-model); return its tag."""
    return build_bento(model_version, model_name=model_name).tag
