"""What every flow shares at run time: the task runner of its parallel stages and the failure hook.

``CHURN_TASK_RUNNER=dask`` runs parallel stages on prefect-dask's DaskTaskRunner, on a local
cluster (``CHURN_DASK_WORKERS`` worker processes) or on the scheduler at ``CHURN_DASK_ADDRESS``.
A failed flow run is logged, and announced through the Prefect notification block named by
``CHURN_NOTIFY_BLOCK`` (e.g. ``slack-webhook/churn-alerts``) when one is configured.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from core.settings import Settings, get_settings

log = logging.getLogger(__name__)


def make_task_runner(settings: Settings | None = None) -> TaskRunner[Any]:
    """Threads by default; a DaskTaskRunner when ``task_runner`` is ``dask``."""
    settings = settings or get_settings()
    if settings.task_runner != "dask":
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


def failure_message(flow_name: str, run_name: str, state_message: str | None) -> str:
    """One-paragraph notice of a failed run: which flow, which run, why."""
    return (
        f"churn flow {flow_name!r} run {run_name!r} failed: {state_message or 'no message'}. "
        "Open the run in the Prefect UI for its logs; rerunning it is safe (every stage is "
        "idempotent)."
    )


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` hook: log the failure, then send it to the configured block."""
    message = failure_message(flow.name, flow_run.name, state.message)
    log.error(message)
    slug = get_settings().notify_block
    if not slug:
        return
    block = Block.load(slug)
    if not isinstance(block, NotificationBlock):
        log.error("CHURN_NOTIFY_BLOCK=%s is a %s, not a notification block", slug, type(block))
        return
    # async_dispatch runs the sync implementation in a sync context (hooks are sync here)
    block.notify(body=message, subject=f"churn: {flow.name} failed")  # type: ignore[unused-coroutine]
