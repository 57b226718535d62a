"""The platform side of a replay: the services it runs against, the wall-clock schedules it
pauses, and waiting for what the automation started (a retrain) and for what the API serves.

The deployments' cron schedules tick in wall time; during a replay the replay itself is the
schedule (one step per simulated week), so they are paused for its length and restored after.
The event-triggered retrain stays live: that is the loop the replay shows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx

from core.clock import wall_now

log = logging.getLogger(__name__)
RETRAIN_DEPLOYMENT = "retrain/retrain-weekly"


@dataclass(frozen=True)
class RetrainOutcome:
    """A retrain run the automation started, and what its gate decided."""

    flow_run: str
    state: str
    version: str | None
    decision: str | None
    reason: str | None


def start_platform(
    *, prefect_port: int, mlflow_port: int, evidently_port: int, bento_port: int
) -> str:
    """``make up`` (server, worker, UIs, the champion's API) plus ``make deploy``; the API URL."""
    from ops.deploy import deploy_all
    from ops.platform import up

    services = {
        s.name: s
        for s in up(
            prefect_port=prefect_port,
            mlflow_port=mlflow_port,
            evidently_port=evidently_port,
            bento_port=bento_port,
        )
    }
    if "rollout" not in services:
        raise RuntimeError("the platform started no API (ops.rollout); see make status")
    deploy_all(f"{services['prefect-server'].url}/api")
    # the follower's proxy: churn-model at its root, switched to each new champion on its own
    return services["rollout"].url


@contextmanager
def schedules_paused() -> Iterator[int]:
    """Pause every active deployment schedule; restore exactly those afterwards."""
    from prefect.client.orchestration import get_client

    paused = []
    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            for schedule in client.read_deployment_schedules(deployment.id):
                if schedule.active:
                    client.update_deployment_schedule(deployment.id, schedule.id, active=False)
                    paused.append((deployment.id, schedule.id))
    log.info("paused %d wall-clock schedules for the replay", len(paused))
    try:
        yield len(paused)
    finally:
        with get_client(sync_client=True) as client:
            for deployment_id, schedule_id in paused:
                client.update_deployment_schedule(deployment_id, schedule_id, active=True)
        log.info("restored %d schedules", len(paused))


def wait_for_retrain(*, requested_after: datetime, timeout_s: float) -> RetrainOutcome:
    """The retrain-weekly run created (wall clock) after ``requested_after``, once final; its
    model version's gate decision from the registry. TimeoutError naming the run otherwise."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(RETRAIN_DEPLOYMENT)
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        while True:
            runs = [
                run
                for run in client.read_flow_runs(deployment_filter=only)
                if run.created is not None and run.created.replace(tzinfo=None) >= requested_after
            ]
            run = min(runs, key=lambda r: r.created) if runs else None  # type: ignore[arg-type,return-value]
            if run is not None and run.state is not None and run.state.is_final():
                break
            if time.monotonic() > deadline:
                what = f"run {run.name} is {run.state_name}" if run else "no run was started"
                raise TimeoutError(
                    f"{RETRAIN_DEPLOYMENT}: {what} after {timeout_s:.0f} s; is the worker up "
                    "(make status) and the deployment's trigger registered (make deploy)?"
                )
            time.sleep(2)
    return _outcome(run.name, run.state_name or "?", run.state.is_completed())


def _outcome(name: str, state: str, completed: bool) -> RetrainOutcome:
    from core.names import TAG_GATE_DECISION, TAG_GATE_REASON
    from core.settings import get_settings
    from tasks.registry import registry_client

    if not completed:
        return RetrainOutcome(name, state, None, None, None)
    versions = registry_client().search_model_versions(f"name = '{get_settings().model_name}'")
    newest = max(versions, key=lambda v: int(v.version))
    tags = newest.tags or {}
    return RetrainOutcome(
        name, state, str(newest.version), tags.get(TAG_GATE_DECISION), tags.get(TAG_GATE_REASON)
    )


def wait_served(url: str, customer_id: str, version: str, *, timeout_s: float) -> str:
    """Ask the API until it answers with ``version`` or ``timeout_s`` passed; the last version
    it answered with."""
    deadline, seen = time.monotonic() + timeout_s, "none"
    while True:
        try:
            answer = httpx.post(f"{url}/predict", json={"customer_ids": [customer_id]}, timeout=5)
            if answer.is_success:
                seen = str(answer.json()["model_version"])
        except httpx.HTTPError as exc:
            log.info("%s did not answer (%s); asking again", url, exc)
        if seen == version or time.monotonic() > deadline:
            return seen
        time.sleep(1)


def wall_started() -> datetime:
    """The wall-clock moment before an event is emitted (the retrain run is created after it)."""
    return wall_now()
