"""Point-in-time queries of the event sources (transactions, tickets).

The entity table LEFT JOINs the source on customer_id and event time in (as_of - reach, as_of];
conditional aggregation (``CASE WHEN <in window> AND <filter>``) then yields every feature of a
lookback tier in one pass, grouped by entity row. "Latest event" features may instead use a
correlated, index-ordered LIMIT 1 lookup so that a long lookback does not widen the join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from tasks.features.entity import AS_OF, ENTITY, ENTITY_ID, window_start
from tasks.features.spec import EVENT_TIME, SOURCES, FeatureDef
from tasks.features.sql import as_float, days_between, postgres_only, safe_ratio

# May be answered by an index-ordered LIMIT 1 lookup per entity row instead of the windowed
# join, so that a long or unbounded lookback does not widen the join (see _split_scan).
_LOOKUPS = {"last", "days_since_last"}


# A lookback tier with fewer scanned features than this joins into the next wider tier: an
# extra join costs about as much as a few features evaluated over a longer window.
MIN_TIER_FEATURES = 4


def event_queries(source: str, defs: Sequence[FeatureDef]) -> dict[str, Select[Any]]:
    """Queries of one event source: features that reach back equally far share a join."""
    scanned, looked_up = _split_scan(defs)
    tiers = _tiers(scanned)
    if not tiers:
        return {f"{source}:lookups": _event_query(source, [], sorted(looked_up, key=defs.index))}
    queries = {}
    for i, (reach, members) in enumerate(tiers):
        lookups = sorted(looked_up, key=defs.index) if i == 0 else []
        label = "all" if reach is None else f"{reach}d"
        queries[f"{source}:{label}"] = _event_query(source, members, lookups, reach)
    return queries


def _overall(aggregate: Any, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """An uncorrelated bound over all entity rows (computed once by the database).

    Redundant with the per-row bound it accompanies, it lets PostgreSQL filter the source
    while scanning it instead of probing every event against the entity hash table. (SQLite
    walks the (customer_id, time) index per entity row, where it would only cost time.)
    """
    return select(aggregate(column)).scalar_subquery()


def _tiers(scanned: Sequence[FeatureDef]) -> list[tuple[int | None, list[FeatureDef]]]:
    """Scanned features grouped by how far back their join must reach, narrowest first.

    Joining only as far back as needed keeps the rows each CASE expression sees few.
    """
    reaches = sorted({_scan_window([fd]) for fd in scanned}, key=lambda r: (r is None, r or 0))
    grouped = [(r, [fd for fd in scanned if _scan_window([fd]) == r]) for r in reaches]
    merged: list[tuple[int | None, list[FeatureDef]]] = []
    carry: list[FeatureDef] = []
    for i, (reach, members) in enumerate(grouped):
        members = carry + members
        if len(members) < MIN_TIER_FEATURES and i + 1 < len(grouped):
            carry = members
            continue
        carry = []
        merged.append((reach, members))
    return merged


def _event_query(
    source: str,
    scanned: Sequence[FeatureDef],
    looked_up: Sequence[FeatureDef],
    reach: int | None = None,
) -> Select[Any]:
    table = SOURCES[source]
    visible = EVENT_TIME[source]
    columns = [as_float(_event_aggregate(fd, visible)).label(fd.name) for fd in scanned]
    columns += [as_float(_latest(fd)).label(fd.name) for fd in looked_up]
    query = select(ENTITY.c.row_id, *columns).order_by(ENTITY.c.row_id)
    if not scanned:
        return query.select_from(ENTITY)
    on = [table.c.customer_id == ENTITY_ID, visible <= AS_OF]
    on.append(postgres_only(visible <= _overall(func.max, AS_OF)))
    if reach is not None:
        start = window_start(reach)
        on += [visible > start, postgres_only(visible > _overall(func.min, start))]
    # Grouped by the primary key, so every other entity column may be referenced.
    return query.select_from(ENTITY.outerjoin(table, and_(*on))).group_by(ENTITY.c.row_id)


def _scan_window(scanned: Sequence[FeatureDef]) -> int | None:
    """Days the windowed join must reach back (None: all history), from the scanned features."""
    if any(fd.window_days is None or fd.event_time is not None for fd in scanned):
        return None  # unbounded, or windowed on another time than the one the join bounds
    return max(max(fd.window_days or 0, fd.baseline_days or 0) for fd in scanned)


def _split_scan(defs: Sequence[FeatureDef]) -> tuple[list[FeatureDef], set[FeatureDef]]:
    """Which features aggregate the windowed join and which use a LIMIT 1 lookup instead.

    ``last`` is always a lookup; ``days_since_last`` is one only when its window reaches further
    back than the join does anyway, so that it does not widen the join for every feature.
    """
    others = [fd for fd in defs if fd.aggregate not in _LOOKUPS]
    reach = _scan_window(others) if others else 0
    looked_up = {
        fd
        for fd in defs
        if fd.aggregate == "last"
        or (
            fd.aggregate == "days_since_last"
            and reach is not None
            and (fd.window_days is None or fd.window_days > reach)
        )
    }
    return [fd for fd in defs if fd not in looked_up], looked_up


def _in_window(
    fd: FeatureDef,
    days: int | None,
    until: ColumnElement[Any],
    *,
    known: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """Event time in (as_of - days, until] and the feature's filter holds.

    ``known`` is a column the outer join already bounds by as_of: testing it for NULL (no
    event joined) is enough, and cheaper than comparing timestamps again.
    """
    time = fd.time_column
    conditions: list[ColumnElement[bool]] = []
    if until is AS_OF and known is not None and time is known:
        conditions.append(time.is_not(None))
    else:
        conditions.append(time <= until)
    if days is not None:
        conditions.append(time > window_start(days))
    if fd.filter is not None:
        conditions.append(fd.filter)
    return and_(*conditions)


def _event_aggregate(fd: FeatureDef, visible: ColumnElement[Any]) -> ColumnElement[Any]:
    """The aggregate expression of one event feature inside its source's grouped query."""
    inside = _in_window(fd, fd.window_days, AS_OF, known=visible)
    time = fd.time_column
    if fd.aggregate == "count":
        return func.count(case((inside, 1)))
    if fd.aggregate == "per_active_day_trend":
        return _per_active_day_trend(fd)
    if fd.aggregate in {"active_days", "per_active_day"}:
        days = func.count(func.distinct(case((inside, func.date(time)))))
        if fd.aggregate == "active_days":
            return days
        return safe_ratio(func.count(case((inside, 1))), days)
    if fd.aggregate == "days_since_last":
        value = fd.value if fd.value is not None else time
        return days_between(AS_OF, func.max(case((inside, value))))
    if fd.aggregate == "days_since_first":
        return days_between(
            AS_OF, func.min(case((inside, fd.value if fd.value is not None else time)))
        )
    assert fd.value is not None
    if fd.aggregate == "sum":
        return func.coalesce(func.sum(case((inside, fd.value), else_=0)), 0)
    if fd.aggregate == "avg":
        return func.avg(case((inside, fd.value)))
    if fd.aggregate == "min":
        return func.min(case((inside, fd.value)))
    if fd.aggregate == "max":
        return func.max(case((inside, fd.value)))
    if fd.aggregate == "ratio":
        assert fd.denominator is not None
        return safe_ratio(
            func.sum(case((inside, fd.value), else_=0)),
            func.sum(case((inside, fd.denominator), else_=0)),
        )
    if fd.aggregate == "trend":
        return _trend(fd, func.sum, else_=0)
    if fd.aggregate == "avg_trend":
        return _trend(fd, func.avg, else_=None)
    raise ValueError(f"feature {fd.name!r}: aggregate {fd.aggregate!r} is not an event aggregate")


def _trend(fd: FeatureDef, aggregate: Any, *, else_: int | None) -> ColumnElement[Any]:
    """Recent window vs the window before it: ratio of daily sums (``trend``) or of means.

    The baseline window is ``(as_of - baseline_days, as_of - window_days]``.
    """
    assert fd.window_days is not None and fd.baseline_days is not None and fd.value is not None
    recent = aggregate(case((_in_window(fd, fd.window_days, AS_OF), fd.value), else_=else_))
    earlier = _in_window(fd, fd.baseline_days, window_start(fd.window_days))
    baseline = aggregate(case((earlier, fd.value), else_=else_))
    if fd.aggregate == "avg_trend":
        return safe_ratio(recent, baseline)
    return safe_ratio(recent * (fd.baseline_days - fd.window_days), baseline * fd.window_days)


def _per_active_day_trend(fd: FeatureDef) -> ColumnElement[Any]:
    """Events per active day in the recent window over events per active day in the window
    before it, ``(as_of - baseline_days, as_of - window_days]``: how intense a day of use still
    is, whatever the account's habit (NULL when either window has no active day)."""
    assert fd.window_days is not None and fd.baseline_days is not None

    def per_active_day(inside: ColumnElement[bool]) -> ColumnElement[Any]:
        days = func.count(func.distinct(case((inside, func.date(fd.time_column)))))
        return safe_ratio(func.count(case((inside, 1))), days)

    recent = per_active_day(_in_window(fd, fd.window_days, AS_OF))
    earlier = per_active_day(_in_window(fd, fd.baseline_days, window_start(fd.window_days)))
    return safe_ratio(recent, earlier)


def _latest(fd: FeatureDef) -> ColumnElement[Any]:
    """Correlated, index-ordered LIMIT 1 lookups: ``days_since_last`` = days since the latest
    event in the window; ``last`` = value of that event (the largest one on a tie)."""
    newest = _alias_of(fd, "newest")
    if fd.aggregate == "days_since_last":
        picked, order = newest.time, [newest.time.desc()]
    else:
        picked, order = newest.value, [newest.time.desc(), newest.value.desc()]
    lookup = (
        select(picked)
        .where(newest.customer_id == ENTITY_ID, newest.in_window)
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )
    return days_between(AS_OF, lookup) if fd.aggregate == "days_since_last" else lookup


@dataclass(frozen=True)
class _Aliased:
    """A feature's expressions rewritten onto an alias of its source table."""

    customer_id: ColumnElement[Any]
    time: ColumnElement[Any]
    value: ColumnElement[Any]
    in_window: ColumnElement[bool]


def _alias_of(fd: FeatureDef, role: str) -> _Aliased:
    other = fd.source.alias(f"{role}_{fd.name}")
    adapt = ClauseAdapter(other).traverse
    value = fd.value if fd.value is not None else fd.time_column
    return _Aliased(
        customer_id=other.c.customer_id,
        time=adapt(fd.time_column),
        value=adapt(value),
        in_window=adapt(_in_window(fd, fd.window_days, AS_OF)),
    )
