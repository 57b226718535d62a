"""Materialization: compute a view's features for its population at a moment and replace that
view's rows of the online store, in one transaction, without the values leaving the database.

One materializer for every view: the built-in catalog (``materialize``, everyone active, every
built-in definition reads its rows) and a declared source (``materialize_view`` with the source's
queries and population). It fills the same entity table and runs the per-source point-in-time
queries compiled from the same definitions as training (``get_historical_features``), which
evaluates them the same way except that, over many cutoffs, it answers billing windows from
running totals (equal up to float rounding; tests compare both on random histories and on a
simulated warehouse). Only the last step differs: the values are serialized to JSON by the
database and inserted directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Float,
    Select,
    String,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.sql import column, table
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from core.names import to_naive_utc, utc_now
from core.tables import online_features
from tasks.features.compiler import compile_source_queries, join_queries
from tasks.features.definitions import FEATURES
from tasks.features.fetch import row_count_problem
from tasks.features.lookup import OnlineView, builtin_view
from tasks.features.population import active_customers, moments_table
from tasks.features.session import compiled_sql, feature_session, fill_entities
from tasks.features.sql import json_integer, json_number, json_object_text, json_text

log = logging.getLogger(__name__)
_TEMP = "feature_values"


@dataclass(frozen=True)
class MaterializeResult:
    """What one materialization of ``view`` wrote (null_rates: share of customers with no value)."""

    view: str
    rows: int
    as_of: datetime
    definitions_hash: str
    seconds: float
    null_rates: dict[str, float] = field(default_factory=dict)


def materialize(as_of: datetime, *, engine: Engine) -> MaterializeResult:
    """Compute the built-in catalog at ``as_of`` for all active customers and replace its rows.

    An aware ``as_of`` is converted to naive UTC first, the warehouse's convention.
    """
    as_of = to_naive_utc(as_of)
    population = active_customers(moments_table([as_of]))
    queries = compile_source_queries(FEATURES)
    return materialize_view(builtin_view(), queries, population, as_of, engine=engine)


def materialize_view(
    view: OnlineView,
    queries: Mapping[str, Select[Any]],
    population: Select[Any],
    as_of: datetime,
    *,
    engine: Engine,
) -> MaterializeResult:
    """Replace ``view``'s rows with its features at ``as_of`` of ``population`` (a SELECT with
    one ``customer_id`` per customer). ``queries``: row_id + feature columns over the entity
    table, one row per entity row, covering ``view.dtypes``; other views' rows stay."""
    started = time.perf_counter()
    values = _values_table(view.dtypes)
    with feature_session(engine) as conn:
        rows = fill_entities(conn, population, as_of)
        sql = compiled_sql(
            (view.definitions_hash, "combined"),
            join_queries(queries, list(view.dtypes)),
            conn.dialect,
        )
        _drop_values(conn)
        conn.exec_driver_sql(f"CREATE TEMP TABLE {_TEMP} AS {sql}")
        counted = select(func.count(), *[func.count(values.c[n]) for n in view.dtypes])
        counts = [int(n) for n in conn.execute(counted.select_from(values)).one()]
        if counts[0] != rows:
            raise ValueError(f"view {view.name!r}: {row_count_problem(conn, counts[0], rows)}")
        # readers see the old rows until commit
        conn.execute(delete(online_features).where(online_features.c.view == view.name))
        conn.execute(
            online_features.insert().from_select(
                ["view", "customer_id", "as_of", "definitions_hash", "features", "materialized_at"],
                select(
                    literal(view.name, String),
                    values.c.customer_id,
                    values.c.as_of,
                    literal(view.definitions_hash, String),
                    _json_document(values, view.dtypes),
                    literal(utc_now(), DateTime),
                ),
            )
        )
        _drop_values(conn)
    null_rates = {
        name: 1 - n / rows if rows else 0.0 for name, n in zip(view.dtypes, counts[1:], strict=True)
    }
    seconds = time.perf_counter() - started
    log.info(
        "%s: materialized %d customers as of %s in %.1f s (definitions %s)",
        view.name,
        rows,
        as_of,
        seconds,
        view.definitions_hash[:12],
    )
    return MaterializeResult(view.name, rows, as_of, view.definitions_hash, seconds, null_rates)


def _values_table(dtypes: Mapping[str, str]) -> TableClause:
    return table(
        _TEMP,
        column("customer_id", String),
        column("as_of", DateTime),
        *[column(n, String if d == "category" else Float) for n, d in dtypes.items()],
    )


def _json_document(values: TableClause, dtypes: Mapping[str, str]) -> ColumnElement[Any]:
    """``{"name": value, ...}`` in the view's order, serialized by the database."""
    pairs: list[ColumnElement[Any]] = []
    for name, dtype in dtypes.items():
        encode = {"category": json_text, "int": json_integer}.get(dtype, json_number)
        pairs += [literal(name), encode(values.c[name])]
    return json_object_text(*pairs)


def _drop_values(conn: Connection) -> None:
    """Drop the values table, qualified by the temporary schema (never a permanent namesake)."""
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{_TEMP}")
