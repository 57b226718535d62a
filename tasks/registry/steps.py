"""Prefect task wrappers of the registry operations; the logic lives in ``candidate``,
``promotion`` and ``rollback``."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from core.names import DEFAULT_MIN_GAIN
from tasks.registry.candidate import Candidate, release_candidate
from tasks.registry.rollback import Rollback, rollback_to_previous
from tasks.training import Evaluation, Trained


@task(cache_policy=NONE)
def release_model(
    trained: Trained,
    evaluation: Evaluation,
    frame: pd.DataFrame,
    *,
    model_name: str,
    horizon_days: int,
    min_auc: float,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
) -> Candidate:
    """Log the model to MLflow, register it as a version of ``model_name`` and gate it (under
    the registry lock, repairing first whatever an interrupted gate or rollback left)."""
    return release_candidate(
        trained,
        evaluation,
        frame,
        model_name=model_name,
        horizon_days=horizon_days,
        min_auc=min_auc,
        tolerance=tolerance,
        min_gain=min_gain,
    )


@task(cache_policy=NONE)
def rollback_champion(*, reason: str = "manual rollback", name: str | None = None) -> Rollback:
    """Move ``champion`` back to the previous champion in the history, and record it."""
    return rollback_to_previous(reason=reason, name=name)


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
