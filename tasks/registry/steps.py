"""Prefect task wrappers of the registry operations; the logic lives in ``candidate``,
``promotion`` and ``rollback``."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from tasks.registry.candidate import release_candidate
from tasks.registry.rollback import Rollback, rollback_to_previous

# Log to MLflow, register as a version of ``model_name`` and gate (under the registry lock,
# repairing first whatever an interrupted gate or rollback left): ``release_candidate`` as a task.
release_model = task(name="release_model", cache_policy=NONE)(release_candidate)


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
