"""The Prefect step every flow starts with: create and migrate the stores (``core.stores``)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from core.stores import prepare_stores
from tasks.retries import RETRY_DELAYS, retry_if


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_if(),
    cache_policy=NONE,
)
def prepare_stores_task(*, warehouse: bool = True, tracking: bool = True) -> None:
    """Warehouse and/or MLflow store created and at their latest schema, once, under a lock."""
    prepare_stores(warehouse=warehouse, tracking=tracking)
