"""Materialization: compute the feature definitions for everyone active at a moment and replace
the online store, in one transaction, without the values leaving the database.

It fills the same entity table and runs the per-source point-in-time queries compiled from the
same definitions as training (``get_historical_features``), which evaluates them the same way
except that, over many cutoffs, it answers billing windows from running totals (equal up to
float rounding; tests compare both on random histories and on a simulated warehouse). Only the
last step differs: the values are serialized to JSON by the database and inserted directly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Float, String, delete, func, literal, select
from sqlalchemy.sql import column, table
from sqlalchemy.sql.elements import ColumnElement

from core.names import to_naive_utc, utc_now
from core.tables import online_features
from tasks.features.compiler import combined_query
from tasks.features.definitions import FEATURES, definitions_hash
from tasks.features.fetch import row_count_problem
from tasks.features.session import compiled_sql, feature_session, fill_active_entities
from tasks.features.sql import json_integer, json_number, json_object_text, json_text

log = logging.getLogger(__name__)
_VALUES = table(
    "feature_values",
    column("customer_id", String),
    column("as_of", DateTime),
    *[column(fd.name, String if fd.dtype == "category" else Float) for fd in FEATURES],
)


@dataclass(frozen=True)
class MaterializeResult:
    """What one materialization wrote (null_rates: share of customers with no value)."""

    rows: int
    as_of: datetime
    definitions_hash: str
    seconds: float
    null_rates: dict[str, float] = field(default_factory=dict)


def materialize(as_of: datetime, *, engine: Engine) -> MaterializeResult:
    """Compute every feature at ``as_of`` for all active customers and replace the online store.

    An aware ``as_of`` is converted to naive UTC first, the warehouse's convention.
    """
    as_of = to_naive_utc(as_of)
    started = time.perf_counter()
    digest = definitions_hash()
    with feature_session(engine) as conn:
        rows = fill_active_entities(conn, as_of)
        counts = _compute_values(conn)
        if counts[0] != rows:
            raise ValueError(row_count_problem(conn, counts[0], rows))
        conn.execute(delete(online_features))  # readers see the old store until commit
        document = _json_document()
        written_at = literal(utc_now(), DateTime)
        conn.execute(
            online_features.insert().from_select(
                ["customer_id", "as_of", "definitions_hash", "features", "materialized_at"],
                select(
                    _VALUES.c.customer_id, _VALUES.c.as_of, literal(digest), document, written_at
                ),
            )
        )
        conn.exec_driver_sql(f"DROP TABLE {_temp_name(conn)}")
    null_rates = {
        fd.name: 1 - n / rows if rows else 0.0 for fd, n in zip(FEATURES, counts[1:], strict=True)
    }
    seconds = time.perf_counter() - started
    log.info(
        "materialized %d customers as of %s in %.1f s (definitions %s)",
        rows,
        as_of,
        seconds,
        digest[:12],
    )
    return MaterializeResult(rows, as_of, digest, seconds, null_rates)


def _compute_values(conn: Connection) -> list[int]:
    """Run the combined feature query into a temp table; return its row and non-null counts."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_temp_name(conn)}")
    sql = compiled_sql(("combined", FEATURES), combined_query(FEATURES), conn.dialect)
    conn.exec_driver_sql(f"CREATE TEMP TABLE {_VALUES.name} AS {sql}")
    counted = select(func.count(), *[func.count(_VALUES.c[fd.name]) for fd in FEATURES])
    return [int(n) for n in conn.execute(counted.select_from(_VALUES)).one()]


def _json_document() -> ColumnElement[Any]:
    """``{"name": value, ...}`` in FEATURES order, serialized by the database."""
    pairs: list[ColumnElement[Any]] = []
    for fd in FEATURES:
        value = _VALUES.c[fd.name]
        encode = {"category": json_text, "int": json_integer}.get(fd.dtype, json_number)
        pairs += [literal(fd.name), encode(value)]
    return json_object_text(*pairs)


def _temp_name(conn: Connection) -> str:
    """The values table qualified by the temporary schema (never a permanent namesake)."""
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    return f"{schema}.{_VALUES.name}"
