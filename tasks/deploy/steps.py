"""Thin Prefect task around the bento build: the train and retrain flows call it after a
promotion."""

from __future__ import annotations

import time
from typing import NamedTuple

from prefect import task
from prefect.cache_policies import NONE

from tasks.deploy.build import build_bento


class BentoBuild(NamedTuple):
    """The bento's tag and the measured wall time of its build (or reuse), in seconds."""

    tag: str
    seconds: float


@task(cache_policy=NONE)
def build_champion_bento(model_version: str, model_name: str | None = None) -> BentoBuild:
    """Build (or reuse) the bento serving version ``model_version`` of ``model_name`` (default:
    the built-in model); its tag and time."""
    started = time.perf_counter()
    tag = build_bento(model_version, model_name=model_name).tag
    return BentoBuild(tag, time.perf_counter() - started)
