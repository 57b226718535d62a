"""Prefect task wrappers of the registry operations; the logic lives in ``store`` and ``gate``."""

from __future__ import annotations

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from tasks.registry.gate import GateDecision
from tasks.registry.promotion import DEFAULT_MIN_GAIN, gate_version
from tasks.registry.rollback import Rollback, rollback_to_previous
from tasks.registry.store import register_version
from tasks.training.tracking import LoggedRun


@task(cache_policy=NONE)
def register_model(
    logged: LoggedRun,
    *,
    metrics: dict[str, float],
    definitions_hash: str,
    name: str | None = None,
) -> str:
    """Register the run's model as a new version of ``name`` (default: settings); return it."""
    return register_version(logged, metrics=metrics, definitions_hash=definitions_hash, name=name)


@task(cache_policy=NONE)
def gate_model(
    *,
    version: str,
    candidate_auc: float,
    holdout: pd.DataFrame,
    definitions_hash: str,
    min_auc: float,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    name: str | None = None,
) -> GateDecision:
    """Promote ``version`` to champion or set it as challenger, under the registry lock
    (repairing first whatever an interrupted gate or rollback left)."""
    return gate_version(
        version=version,
        candidate_auc=candidate_auc,
        holdout=holdout,
        definitions_hash=definitions_hash,
        min_auc=min_auc,
        tolerance=tolerance,
        min_gain=min_gain,
        name=name,
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
