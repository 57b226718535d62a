"""Thin Prefect task around the bento build: the train flow calls it after a promotion."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from tasks.deploy.build import build_bento


@task(cache_policy=NONE)
def build_champion_bento(model_version: str) -> str:
    """Build (or reuse) the bento serving registry version ``model_version``; return its tag."""
    return build_bento(model_version).tag
