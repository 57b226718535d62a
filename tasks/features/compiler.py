"""Compile feature definitions into point-in-time SELECTs over the entity table.

CRM: the entity table LEFT JOINs the SCD2 version valid at as_of (and, for change features, the
version valid at as_of - window). Event sources: see ``tasks.features.events``. Every query
returns one row per entity row (row_id + feature columns), ordered by row_id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from core.tables import customers, source_snapshots
from tasks.features.entity import AS_OF, ENTITY, ENTITY_ID, window_start
from tasks.features.events import event_queries
from tasks.features.prefix import prefix_plan, split_prefix
from tasks.features.spec import FeatureDef
from tasks.features.sql import as_float, days_between, safe_ratio


def compile_source_queries(features: Sequence[FeatureDef]) -> dict[str, Select[Any]]:
    """SELECTs (row_id + feature columns, one row per entity row) covering every feature.

    One query for the CRM, and per event source one query per lookback tier.
    """
    return compile_training_plan(features, running_totals=False).queries


@dataclass(frozen=True)
class TrainingPlan:
    """Feature queries for many entity rows, and the statements to run before them (the
    temporary tables they build live as long as the connection)."""

    setup: tuple[ClauseElement, ...]
    queries: dict[str, Select[Any]]
    temp_tables: tuple[str, ...]  # built by setup: PostgreSQL's planner needs their statistics
    reads_setup: frozenset[str] = frozenset()  # the queries that read what setup builds


def compile_training_plan(
    features: Sequence[FeatureDef], *, running_totals: bool = True
) -> TrainingPlan:
    """Like ``compile_source_queries``, but an event source with many decomposable features
    answers them from running totals built once (``tasks.features.prefix``): the same values up
    to float rounding, at a cost that does not grow with the events in each window.
    ``running_totals=False``: exactly ``compile_source_queries``, no setup."""
    by_source: dict[str, list[FeatureDef]] = {}
    for fd in features:
        by_source.setdefault(fd.source.name, []).append(fd)
    setup: list[ClauseElement] = []
    tables: list[str] = []
    queries: dict[str, Select[Any]] = {}
    after_setup: set[str] = set()
    for name, defs in by_source.items():
        if name == "customers":
            queries[name] = _crm_query(defs)
            continue
        if name == "source_snapshots":
            queries["snapshot"] = _snapshot_query(defs)
            continue
        running, rest = split_prefix(name, defs) if running_totals else ([], defs)
        if running:
            plan = prefix_plan(name, running)
            setup += plan.setup
            tables.append(plan.table)
            queries[f"{name}:running"] = plan.query
            after_setup.add(f"{name}:running")
        if rest:
            queries.update(event_queries(name, rest))
    return TrainingPlan(tuple(setup), queries, tuple(tables), frozenset(after_setup))


def version_valid_at(version: Any, moment: ColumnElement[Any]) -> ColumnElement[bool]:
    """SCD2 visibility: the version of the entity's customer with valid_from <= t < valid_to."""
    return and_(
        version.c.customer_id == ENTITY_ID,
        version.c.valid_from <= moment,
        or_(version.c.valid_to.is_(None), version.c.valid_to > moment),
    )


def _crm_query(defs: Sequence[FeatureDef]) -> Select[Any]:
    joined = ENTITY.outerjoin(customers, version_valid_at(customers, AS_OF))
    past: dict[int, Any] = {}
    for fd in defs:
        if fd.aggregate in {"change", "pct_change"} and fd.window_days not in past:
            assert fd.window_days is not None  # checked by FeatureDef
            alias = customers.alias(f"crm_{fd.window_days}d")
            past[fd.window_days] = alias
            joined = joined.outerjoin(alias, version_valid_at(alias, window_start(fd.window_days)))
    columns = [_crm_expression(fd, past).label(fd.name) for fd in defs]
    return select(ENTITY.c.row_id, *columns).select_from(joined).order_by(ENTITY.c.row_id)


def _snapshot_query(defs: Sequence[FeatureDef]) -> Select[Any]:
    """Attributes of a declared source's latest snapshot row at or before as_of (its features
    share one filter: the source's name)."""
    rows, newer = source_snapshots, source_snapshots.alias("newest_snapshot")
    source = defs[0].filter
    if source is None or len({_literal_sql(fd.filter) for fd in defs}) > 1:
        raise ValueError("snapshot features of one definition must share their source filter")
    latest = (
        select(func.max(newer.c.snapshot_at))
        .where(
            ClauseAdapter(newer).traverse(source),
            newer.c.customer_id == ENTITY_ID,
            newer.c.snapshot_at <= AS_OF,
        )
        .scalar_subquery()
    )
    visible = and_(source, rows.c.customer_id == ENTITY_ID, rows.c.snapshot_at == latest)
    columns = [_crm_expression(fd, {}).label(fd.name) for fd in defs]
    return (
        select(ENTITY.c.row_id, *columns)
        .select_from(ENTITY.outerjoin(rows, visible))
        .order_by(ENTITY.c.row_id)
    )


def _literal_sql(clause: ClauseElement | None) -> str:
    return str(clause if clause is None else clause.compile(compile_kwargs={"literal_binds": True}))


def _crm_expression(fd: FeatureDef, past: dict[int, Any]) -> ColumnElement[Any]:
    assert fd.value is not None
    if fd.aggregate == "attr":
        return fd.value if fd.dtype == "category" else as_float(fd.value)
    if fd.aggregate == "days_since_last":
        return days_between(AS_OF, fd.value)
    assert fd.window_days is not None
    before = ClauseAdapter(past[fd.window_days]).traverse(fd.value)
    if fd.aggregate == "change":
        return as_float(fd.value - before)
    return safe_ratio(fd.value - before, before)  # pct_change


def join_queries(queries: Mapping[str, Select[Any]], names: Sequence[str]) -> Select[Any]:
    """customer_id, as_of and the features ``names`` per entity row: ``queries`` (row_id + feature
    columns each, as ``compile_source_queries`` returns them) joined on row_id."""
    joined: Any = ENTITY
    columns: list[ColumnElement[Any]] = []
    for i, query in enumerate(queries.values()):
        part = query.order_by(None).subquery(f"part_{i}")
        joined = joined.outerjoin(part, part.c.row_id == ENTITY.c.row_id)
        columns += [c for c in part.c if c.name != "row_id"]
    by_name = {c.name: c for c in columns}
    return select(ENTITY_ID, AS_OF, *[by_name[name] for name in names]).select_from(joined)
