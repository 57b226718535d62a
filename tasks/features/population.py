"""Who is scored at a moment (the active population) and up to when the warehouse is complete.

Shared by training labels and online materialization so both score the same people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Select, and_, func, literal, or_, select, union_all
from sqlalchemy.sql.expression import FromClause

from core.tables import customers, tickets, transactions


def moments_table(moments: Sequence[datetime], **extra: Sequence[datetime]) -> FromClause:
    """A tiny inline table of moments (column ``as_of`` plus extra datetime columns)."""
    if not moments:
        raise ValueError("at least one as_of moment is needed")
    rows = [
        select(
            literal(moment, DateTime).label("as_of"),
            *[literal(values[i], DateTime).label(name) for name, values in extra.items()],
        )
        for i, moment in enumerate(moments)
    ]
    return union_all(*rows).subquery("moments") if len(rows) > 1 else rows[0].subquery("moments")


def active_customers(moments: FromClause) -> Select[Any]:
    """customer_id, as_of (+ moments' other columns), cancel_date of everyone active at as_of.

    Active: a CRM version is valid at as_of, signup_date <= as_of, and the latest known
    cancel_date (that of the current version, an event time) is empty or after as_of.
    """
    at = moments.c.as_of
    current = customers.alias("crm_current")
    valid = and_(
        customers.c.valid_from <= at,
        or_(customers.c.valid_to.is_(None), customers.c.valid_to > at),
    )
    latest = and_(current.c.customer_id == customers.c.customer_id, current.c.valid_to.is_(None))
    return (
        select(customers.c.customer_id, *moments.c, current.c.cancel_date)
        .select_from(moments.join(customers, valid).outerjoin(current, latest))
        .where(
            customers.c.signup_date <= at,
            or_(current.c.cancel_date.is_(None), current.c.cancel_date > at),
        )
    )


def active_customer_ids(as_of: datetime, *, engine: Engine) -> list[str]:
    """Ids of the customers active at ``as_of``, sorted."""
    query = active_customers(moments_table([as_of])).order_by(customers.c.customer_id)
    with engine.connect() as conn:
        return [row.customer_id for row in conn.execute(query)]


def data_watermark(*, engine: Engine) -> datetime | None:
    """The latest event time the warehouse has seen across all sources (None when empty).

    CRM versions count by valid_from, billing by occurred_at, tickets by updated_at. Every
    source is exported up to the same moment by the source systems, so the latest event marks
    how far the data reaches; pass an explicit ``as_of``/``now`` when a source is known to lag.
    """
    query = select(
        select(func.max(customers.c.valid_from)).scalar_subquery(),
        select(func.max(transactions.c.occurred_at)).scalar_subquery(),
        select(func.max(tickets.c.updated_at)).scalar_subquery(),
    )
    with engine.connect() as conn:
        latest = [value for value in conn.execute(query).one() if value is not None]
    return max(latest) if latest else None


def data_start(*, engine: Engine) -> datetime | None:
    """The first moment from which every non-empty source holds data (max of per-source minima)."""
    query = select(
        select(func.min(customers.c.valid_from)).scalar_subquery(),
        select(func.min(transactions.c.occurred_at)).scalar_subquery(),
        select(func.min(tickets.c.created_at)).scalar_subquery(),
    )
    with engine.connect() as conn:
        earliest = [value for value in conn.execute(query).one() if value is not None]
    return max(earliest) if earliest else None
