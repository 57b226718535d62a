"""What a feature definition is: one frozen record per feature, checked when it is declared."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from core.tables import customers, source_events, source_snapshots, tickets, transactions
from tasks.features.entity import WINDOW_DAYS

Dtype = Literal["float", "int", "category"]
# attr/change/pct_change read the CRM version valid at as_of (and at as_of - window);
# the others aggregate events with event time in (as_of - window, as_of]; "last" is the value of
# the latest such event (ties broken by the source's primary key).
Aggregate = Literal[
    "attr",
    "change",
    "pct_change",
    "sum",
    "count",
    "avg",
    "min",
    "max",
    "days_since_last",
    "days_since_first",
    "ratio",
    "trend",
    "avg_trend",
    "last",
    "active_days",  # days with a matching event in the window (distinct calendar days)
    "per_active_day",  # matching events per active day in the window
    "per_active_day_trend",  # per_active_day in the window / in (window, baseline] before it
]

# The timestamp that makes a row of each event source visible: nothing after as_of is read.
EVENT_TIME: dict[str, ColumnElement[Any]] = {
    "transactions": transactions.c.occurred_at,
    "tickets": tickets.c.created_at,
    # declared event sources (tasks/declared); a feature filters on its source's name
    "source_events": source_events.c.event_time,
}
SOURCES: dict[str, Table] = {
    t.name: t for t in (customers, transactions, tickets, source_events, source_snapshots)
}
# Attribute tables with history: a feature reads the row valid at as_of ("attr"). The CRM keeps
# SCD2 versions (and compares them with older ones: change, pct_change); a declared snapshot
# source keeps one row per snapshot date, the latest at or before as_of counting.
ATTRIBUTE_AGGREGATES = {
    "customers": {"attr", "change", "pct_change", "days_since_last"},
    "source_snapshots": {"attr"},
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_NEEDS_VALUE = {
    "attr",
    "change",
    "pct_change",
    "sum",
    "avg",
    "min",
    "max",
    "ratio",
    "trend",
    "avg_trend",
    "last",
}


@dataclass(frozen=True, eq=False)
class FeatureDef:
    """One feature: how a value per (customer_id, as_of) is computed inside the database.

    ``value``, ``filter``, ``event_time`` and ``denominator`` are SQLAlchemy expressions over the
    source table (and the entity table, e.g. ``AS_OF``). eq=False: expressions overload ``==``.
    """

    name: str
    dtype: Dtype
    description: str
    source: Table
    aggregate: Aggregate
    value: ColumnElement[Any] | None = None
    window_days: int | None = None
    filter: ColumnElement[bool] | None = None
    event_time: ColumnElement[Any] | None = None
    denominator: ColumnElement[Any] | None = None
    baseline_days: int | None = None
    entity: str = "customer_id"
    # The values the sources' contracts allow (e.g. a satisfaction mean in [1, 5]); not part of
    # the definitions hash: it checks what a caller sends (/predict_features), not what the store
    # computes. ``valid_range`` adds what the aggregate itself implies.
    ge: float | None = None
    le: float | None = None

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError(f"feature {self.name!r} is ill-defined: " + "; ".join(problems))

    @property
    def is_crm(self) -> bool:
        """True when the feature reads SCD2 CRM versions rather than aggregating events."""
        return self.source.name == "customers"

    @property
    def valid_range(self) -> tuple[float | None, float | None]:
        """(lowest, highest) value the feature can take; None: unbounded on that side. Counts,
        days since an event and ratios are never negative; a ratio is at most 1."""
        floor = 0.0 if self.aggregate in _NON_NEGATIVE else None
        ceiling = 1.0 if self.aggregate == "ratio" else None
        ge = self.ge if floor is None or (self.ge is not None and self.ge > floor) else floor
        le = self.le if ceiling is None or (self.le is not None and self.le < ceiling) else ceiling
        return ge, le

    @property
    def time_column(self) -> ColumnElement[Any]:
        """The event time that places a source row inside or outside the window."""
        if self.event_time is not None:
            return self.event_time
        return EVENT_TIME[self.source.name]


_NON_NEGATIVE = {
    "count",
    "days_since_last",
    "days_since_first",
    "ratio",
    "active_days",
    "per_active_day",
    "per_active_day_trend",
}


def _problems(fd: FeatureDef) -> list[str]:
    """Every reason ``fd`` cannot be compiled (empty when it is fine)."""
    out: list[str] = []
    if not _NAME.match(fd.name):
        out.append("name must be lower_snake_case")
    if fd.source.name not in SOURCES:
        out.append(f"source {fd.source.name!r} is not one of {sorted(SOURCES)}")
    if fd.entity != "customer_id":
        out.append("only the customer_id entity exists")
    if fd.aggregate in _NEEDS_VALUE and fd.value is None:
        out.append(f"aggregate {fd.aggregate!r} needs a value expression")
    if fd.source.name == "customers" and fd.aggregate == "days_since_last" and fd.value is None:
        # events default to their event time; a CRM version has none: name the date column
        out.append("days_since_last on the customers source needs a value (a date column)")
    if fd.dtype == "int" and fd.aggregate not in {"count", "active_days"}:
        out.append("dtype 'int' is for counts (whole numbers); use 'float'")
    if fd.dtype == "category" and fd.aggregate != "attr":
        out.append("a category can only be an attribute (aggregate 'attr')")
    allowed = ATTRIBUTE_AGGREGATES.get(fd.source.name)
    if allowed is not None and fd.aggregate not in allowed:
        out.append(f"features of {fd.source.name} use {sorted(allowed)}")
    if allowed is None and fd.aggregate in {"attr", "change", "pct_change"}:
        out.append(f"aggregate {fd.aggregate!r} only applies to attribute tables")
    if fd.source.name == "source_snapshots" and fd.filter is None:
        out.append("a snapshot attribute needs a filter naming its source")
    if fd.ge is not None and fd.le is not None and fd.ge > fd.le:
        out.append(f"its valid range is empty: ge {fd.ge} > le {fd.le}")
    if fd.window_days is not None and fd.window_days not in WINDOW_DAYS:
        out.append(f"window_days must be one of {WINDOW_DAYS}")
    trends = {"trend", "avg_trend", "per_active_day_trend"}
    if fd.aggregate in {"change", "pct_change"} | trends and fd.window_days is None:
        out.append(f"aggregate {fd.aggregate!r} needs window_days")
    if fd.aggregate == "ratio" and fd.denominator is None:
        out.append("aggregate 'ratio' needs a denominator expression")
    if fd.aggregate in trends and (
        fd.baseline_days is None
        or fd.baseline_days not in WINDOW_DAYS
        or fd.baseline_days <= (fd.window_days or 0)
    ):
        out.append(f"aggregate {fd.aggregate!r} needs baseline_days in WINDOW_DAYS > window_days")
    return out
