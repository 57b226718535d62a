"""Thin Prefect tasks around the feature store: pick the moment, materialize, publish a report.

Database errors (lost connection, a locked SQLite file) are retried with backoff; a ValueError
(empty warehouse, broken SCD2 history) fails at once since retrying cannot fix it.
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from sqlalchemy import Engine

from core.db import make_engine
from core.names import to_naive_utc, utc_now
from core.settings import get_settings
from tasks.features.definitions import FEATURES
from tasks.features.online import MaterializeResult, materialize
from tasks.features.population import data_watermark
from tasks.retries import RETRY_DELAYS, is_transient, retry_if

# Retry only transient failures (lost connection, locked database), never a bad path or config.
retry_on_database_error = retry_if(is_transient)


def _engine() -> Engine:
    return make_engine(get_settings().database_url)


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
)
def resolve_as_of(as_of: datetime | None = None) -> datetime:
    """The moment to materialize: ``as_of`` (as naive UTC) if given, else the data watermark."""
    if as_of is not None:
        return to_naive_utc(as_of)
    engine = _engine()
    try:
        watermark = data_watermark(engine=engine)
    finally:
        engine.dispose()
    if watermark is None:
        raise ValueError(
            f"the warehouse at {get_settings().database_url} holds no data yet;"
            " run the ingest flow first (or pass as_of)"
        )
    return watermark


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
)
def materialize_online_store(as_of: datetime) -> MaterializeResult:
    """Replace the online store with every active customer's features at ``as_of``."""
    engine = _engine()
    try:
        return materialize(as_of, engine=engine)
    finally:
        engine.dispose()


@task(cache_policy=NONE)
def publish_feature_report(result: MaterializeResult) -> str:
    """Attach row count, freshness and per-feature null rates to the run; return the markdown."""
    age = utc_now() - result.as_of
    markdown = "\n".join(
        [
            "# Online feature store",
            "",
            "| | |",
            "|---|---|",
            f"| customers materialized | {result.rows:,} |",
            f"| features as of | {result.as_of.isoformat()} |",
            f"| age of as_of at publication | {age.days} d {age.seconds // 3600} h |",
            f"| definitions hash | `{result.definitions_hash[:16]}` |",
            f"| seconds | {result.seconds:.1f} |",
        ]
    )
    create_markdown_artifact(markdown, key="feature-store", description="online store freshness")
    rows = [
        {"feature": fd.name, "dtype": fd.dtype, "null_rate": round(result.null_rates[fd.name], 4)}
        for fd in FEATURES
    ]
    create_table_artifact(
        rows, key="feature-null-rates", description="share of customers without a value"
    )
    return markdown
