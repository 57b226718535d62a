"""Running totals: every windowed event feature of many cutoffs from one pass over the source.

The windowed join (``tasks.features.events``) evaluates every feature's CASE expression once per
(entity row, event in its window): with monthly cutoffs and 90-180 day windows each event is
aggregated again for every cutoff whose window holds it. For sums and counts there is a cheaper
way: one window-function pass over the source computes, per customer and event time, the running
total of each (filter, value) term; a window ``(as_of - N days, as_of]`` is then the total at
as_of minus the total at as_of - N days, two index lookups per entity row whatever the number of
events. ``days_since_last`` is a running maximum of the matching events' time, compared with the
window start. The events themselves are read once per source, not once per cutoff.

Only training uses this path (``get_historical_features``); materialization (one as_of) keeps the
windowed join, whose definitions hash it shares. The sums differ from the windowed join's only
by float rounding (a difference of two running totals), which the tests bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from tasks.features.entity import AS_OF, ENTITY, ENTITY_ID, window_start
from tasks.features.events import _latest
from tasks.features.spec import EVENT_TIME, SOURCES, FeatureDef
from tasks.features.sql import as_float, days_between, safe_ratio

# Aggregates a difference of running totals (or a running maximum) answers exactly; ``last``
# keeps its index-ordered LIMIT 1 lookup, which reads no more than one event.
DECOMPOSABLE = {"count", "sum", "avg", "ratio", "trend", "avg_trend", "days_since_last", "last"}
# Below this many running-total features a source keeps the windowed join: the running totals
# cost one pass over all its events plus a few lookups per entity row, worth it only when they
# replace many CASE expressions per joined event.
MIN_PREFIX_FEATURES = 8


@dataclass(frozen=True)
class PrefixPlan:
    """One source's running totals: statements that build them, and the feature query."""

    table: str
    setup: tuple[ClauseElement, ...]
    query: Select[Any]


def split_prefix(
    source: str, defs: Sequence[FeatureDef]
) -> tuple[list[FeatureDef], list[FeatureDef]]:
    """(features answered by running totals, features left to the windowed join) of a source.

    A feature qualifies when its aggregate decomposes, its window is bounded by the source's
    visible time, and its filter and value read only the source row (nothing of the entity row,
    no correlated lookup). A source with fewer than ``MIN_PREFIX_FEATURES`` of them keeps them all
    in the windowed join.
    """
    if source not in EVENT_TIME:
        return [], list(defs)
    ok = [fd for fd in defs if _qualifies(fd)]
    if sum(fd.aggregate != "last" for fd in ok) < MIN_PREFIX_FEATURES:
        return [], list(defs)
    return ok, [fd for fd in defs if fd not in ok]


def _qualifies(fd: FeatureDef) -> bool:
    if fd.aggregate not in DECOMPOSABLE or fd.event_time is not None:
        return False
    if fd.aggregate == "days_since_last" and fd.value is not None:
        return False  # a running maximum of another column than the window's time
    parts = [fd.value, fd.filter, fd.denominator]
    return not any(_reads_entity_or_subquery(p) for p in parts if p is not None)


def _reads_entity_or_subquery(expr: ColumnElement[Any]) -> bool:
    for element in visitors.iterate(expr):
        if isinstance(element, ScalarSelect | Select):
            return True
        if getattr(element, "table", None) is ENTITY:
            return True
    return False


def _key(expr: ColumnElement[Any] | None) -> str:
    """Identity of an expression: its SQL text (literals inlined), so equal terms are shared."""
    if expr is None:
        return "-"
    return str(expr.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


class _Terms:
    """The running-total columns a source's features need, each computed once."""

    def __init__(self, time: ColumnElement[Any]) -> None:
        self.time = time
        self.columns: dict[tuple[str, str, str], tuple[str, ColumnElement[Any]]] = {}

    def _add(self, kind: str, filt: Any, value: Any, expr: ColumnElement[Any]) -> str:
        key = (kind, _key(filt), _key(value))
        if key not in self.columns:
            self.columns[key] = (f"{kind}_{len(self.columns)}", expr)
        return self.columns[key][0]

    def total(self, filt: ColumnElement[bool] | None, value: ColumnElement[Any]) -> str:
        """Running sum of ``value`` over matching events (0 for the others)."""
        term = value if filt is None else case((filt, value), else_=literal(0))
        return self._add("sum", filt, value, func.sum(term))

    def count(self, filt: ColumnElement[bool] | None) -> str:
        """Running count of matching events."""
        term = literal(1) if filt is None else case((filt, literal(1)), else_=literal(0))
        return self._add("n", filt, None, func.sum(term))

    def count_values(self, filt: ColumnElement[bool] | None, value: ColumnElement[Any]) -> str:
        """Running count of matching events whose ``value`` is not NULL (what avg divides by)."""
        present = value.is_not(None) if filt is None else and_(filt, value.is_not(None))
        term = case((present, literal(1)), else_=literal(0))
        return self._add("nn", filt, value, func.sum(term))

    def latest(self, filt: ColumnElement[bool] | None, value: ColumnElement[Any]) -> str:
        """Running maximum of ``value`` (a time) over matching events."""
        term = value if filt is None else case((filt, value))
        return self._add("max", filt, value, func.max(term))


def prefix_plan(source: str, defs: Sequence[FeatureDef]) -> PrefixPlan:
    """Statements that build ``source``'s running totals and the query that reads the features."""
    table = SOURCES[source]
    time = EVENT_TIME[source]
    terms = _Terms(time)
    builders = [_feature(fd, terms) for fd in defs]
    # Window starts whose totals are looked up; the events read reach back to the widest window.
    windows = sorted(
        {
            d
            for fd in defs
            if fd.aggregate not in {"last", "days_since_last"}
            for d in (fd.window_days, fd.baseline_days)
            if d
        }
    )
    scanned = [fd for fd in defs if fd.aggregate != "last"]
    unbounded = any(fd.window_days is None for fd in scanned)
    reach = max((max(fd.window_days or 0, fd.baseline_days or 0) for fd in scanned), default=0)

    names = [name for name, _ in terms.columns.values()]
    totals = Table(
        f"prefix_{source}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("customer_id", String(64), nullable=False),
        Column("t", DateTime, nullable=False),
        *[Column(name, DateTime if name.startswith("max") else Float) for name in names],
        prefixes=["TEMPORARY"],
    )
    index = Index(f"ix_prefix_{source}", totals.c.customer_id, totals.c.t)
    # One pass in (customer, time) order; RANGE frames (the default) give events of one moment
    # the same totals, so a lookup may land on any of them.
    running = [
        expr.over(partition_by=table.c.customer_id, order_by=time).label(name)
        for name, expr in terms.columns.values()
    ]
    events = select(table.c.customer_id, time.label("t"), *running).where(
        time <= select(func.max(AS_OF)).scalar_subquery()
    )
    if not unbounded and reach:
        earliest = select(func.min(window_start(reach))).scalar_subquery()
        events = events.where(time > earliest)
    fill = totals.insert().from_select(["customer_id", "t", *names], events)

    boundaries: dict[str, Any] = {"now": AS_OF} | {f"{d}d": window_start(d) for d in windows}
    joined: Any = ENTITY
    at: dict[str, Any] = {}
    for label, moment in boundaries.items():
        alias = totals.alias(f"at_{label}")
        inner = totals.alias(f"seek_{label}")
        seek = (
            select(inner.c.id)
            .where(inner.c.customer_id == ENTITY_ID, inner.c.t <= moment)
            .order_by(inner.c.t.desc())
            .limit(1)
            .scalar_subquery()
        )
        joined = joined.outerjoin(alias, alias.c.id == seek)
        at[label] = alias
    columns = [as_float(build(at)).label(fd.name) for fd, build in zip(defs, builders, strict=True)]
    query = select(ENTITY.c.row_id, *columns).select_from(joined).order_by(ENTITY.c.row_id)
    drop = DropTable(totals, if_exists=True)
    return PrefixPlan(
        table=totals.name,
        setup=(drop, CreateTable(totals), fill, CreateIndex(index)),
        query=query,
    )


def _total(at: dict[str, Any], column: str, moment: str) -> Any:
    return func.coalesce(at[moment].c[column], 0)


def _window(at: dict[str, Any], column: str, days: int | None) -> Any:
    """Total of ``column`` over ``(as_of - days, as_of]`` (all events when days is None)."""
    if days is None:
        return _total(at, column, "now")
    return _total(at, column, "now") - _total(at, column, f"{days}d")


def _baseline(at: dict[str, Any], column: str, recent: int, baseline: int) -> Any:
    """Total of ``column`` over ``(as_of - baseline, as_of - recent]``."""
    return _total(at, column, f"{recent}d") - _total(at, column, f"{baseline}d")


def _feature(fd: FeatureDef, terms: _Terms) -> Any:
    """A function of the looked-up totals that yields ``fd``'s value."""
    w = fd.window_days
    if fd.aggregate == "last":
        return lambda at: _latest(fd)
    if fd.aggregate == "count":
        n = terms.count(fd.filter)
        return lambda at: _window(at, n, w)
    if fd.aggregate == "days_since_last":
        latest = terms.latest(fd.filter, fd.value if fd.value is not None else terms.time)

        def since(at: dict[str, Any]) -> Any:
            moment = at["now"].c[latest]
            if w is not None:
                moment = case((moment > window_start(w), moment))
            return days_between(AS_OF, moment)

        return since
    assert fd.value is not None
    s = terms.total(fd.filter, fd.value)
    if fd.aggregate == "sum":
        return lambda at: _window(at, s, w)
    if fd.aggregate == "avg":
        n = terms.count_values(fd.filter, fd.value)
        return lambda at: safe_ratio(_window(at, s, w), _window(at, n, w))
    if fd.aggregate == "ratio":
        assert fd.denominator is not None
        d = terms.total(fd.filter, fd.denominator)
        return lambda at: safe_ratio(_window(at, s, w), _window(at, d, w))
    assert w is not None and fd.baseline_days is not None
    b = fd.baseline_days
    if fd.aggregate == "trend":  # daily sums: recent window vs the window before it
        return lambda at: safe_ratio(_window(at, s, w) * (b - w), _baseline(at, s, w, b) * w)
    n = terms.count_values(fd.filter, fd.value)  # avg_trend: means instead of daily sums
    return lambda at: safe_ratio(
        safe_ratio(_window(at, s, w), _window(at, n, w)),
        safe_ratio(_baseline(at, s, w, b), _baseline(at, n, w, b)),
    )
