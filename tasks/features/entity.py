"""The entity table every feature query starts from: one row per (customer_id, as_of) request.

It is a per-connection temporary table. Window starts (``as_of - N days``) are precomputed as
columns when the rows are uploaded, so the SQL only compares timestamps and stays portable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

# Every window a feature may use, in days. A new window is one more precomputed column.
WINDOW_DAYS: tuple[int, ...] = (7, 14, 28, 30, 60, 90, 180, 365)

ENTITY = Table(
    "feature_entities",
    MetaData(),
    Column("row_id", Integer, primary_key=True, autoincrement=False),
    Column("customer_id", String(64), nullable=False),
    Column("as_of", DateTime, nullable=False),
    *[Column(f"start_{days}d", DateTime, nullable=False) for days in WINDOW_DAYS],
    prefixes=["TEMPORARY"],
)

AS_OF: ColumnElement[Any] = ENTITY.c.as_of
ENTITY_ID: ColumnElement[Any] = ENTITY.c.customer_id


def window_start(days: int) -> ColumnElement[Any]:
    """The ``as_of - days`` column of the entity table (a window is ``(start, as_of]``)."""
    if days not in WINDOW_DAYS:
        raise ValueError(f"window of {days} days is not one of WINDOW_DAYS={WINDOW_DAYS}")
    return ENTITY.c[f"start_{days}d"]


def state_at_as_of(
    records: Table, states: Table, *, key: str, time: str, column: str
) -> ColumnElement[Any]:
    """A record's ``column`` in its latest state exported by as_of (an index lookup per record);
    the earliest known state for a record whose first export came later, and the record's own
    value for one loaded without states (e.g. by hand)."""
    state, same = states.c[column], states.c[key] == records.c[key]
    then = (
        select(state).where(same, states.c[time] <= AS_OF).order_by(states.c[time].desc()).limit(1)
    )
    first = select(state).where(same).order_by(states.c[time]).limit(1)
    return func.coalesce(then.scalar_subquery(), first.scalar_subquery(), records.c[column])
