"""Prefect task around the resolver: the flows that take ``model_name`` start with it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from core.db import make_engine
from core.settings import get_settings
from tasks.modeldata.base import ModelData, model_data
from tasks.retries import RETRY_DELAYS, retry_if

retry_on_database_error = retry_if()


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
    task_run_name="model-data-{model_name}",
)
def resolve_model(model_name: str, *, as_served: bool = False) -> ModelData:
    """The data behind ``model_name`` (built-in sources, or its declared source; ``as_served``:
    on its champion's definitions, for monitoring and batch scores)."""
    engine = make_engine(get_settings().database_url)
    try:
        return model_data(model_name, engine=engine, as_served=as_served)
    finally:
        engine.dispose()
