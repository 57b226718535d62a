"""Populations and labels of a declared source.

snapshot: the population is the latest snapshot's rows; the label is the spec's churn flag.
events: the population at a cutoff is everyone with a subscription active at it; the label is 1
when their subscription(s) end in ``(cutoff, cutoff + horizon]`` — the rules of ``tasks.labels``:
cutoffs at the spec's ``cutoff_every`` (default: monthly for a history of 14 months or more, else
weekly), from the first one at which both files hold data, and only cutoffs whose horizon has
fully elapsed by the data watermark.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Select, and_, case, func, literal, or_, select

from core.tables import source_events, source_snapshots, source_subscriptions
from tasks.declared.spec import SpecError
from tasks.features.population import moments_table
from tasks.labels import cutoff_moments, default_cadence, fetch_labels


def latest_snapshot(source: str, *, engine: Engine) -> datetime:
    """The newest snapshot date of a snapshot source."""
    query = select(func.max(source_snapshots.c.snapshot_at)).where(
        source_snapshots.c.source == source
    )
    with engine.connect() as conn:
        moment = conn.execute(query).scalar_one_or_none()
    if moment is None:
        raise SpecError(f"source {source!r} holds no snapshot rows; ingest it first")
    return moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))


def snapshot_labels(source: str, *, engine: Engine) -> pd.DataFrame:
    """customer_id, as_of (the latest snapshot date), label — one row per customer."""
    moment = latest_snapshot(source, engine=engine)
    s = source_snapshots.c
    query = (
        select(s.customer_id, s.snapshot_at.label("as_of"), s.label)
        .where(s.source == source, s.snapshot_at == moment)
        .order_by(s.customer_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "as_of", "label"])
    return frame.astype({"customer_id": object, "as_of": "datetime64[ns]", "label": "int64"})


def snapshot_population(source: str, as_of: datetime) -> Select[Any]:
    """Ids to serve at ``as_of``: in their latest snapshot at or before it, and not churned."""
    s = source_snapshots.alias("snap")
    newer = source_snapshots.alias("newer")
    latest = (
        select(func.max(newer.c.snapshot_at))
        .where(
            newer.c.source == source,
            newer.c.customer_id == s.c.customer_id,
            newer.c.snapshot_at <= as_of,
        )
        .scalar_subquery()
    )
    return (
        select(s.c.customer_id)
        .where(s.c.source == source, s.c.snapshot_at == latest, s.c.label == 0)
        .distinct()
    )


def _active(source: str, at: Any) -> Any:
    sub = source_subscriptions.c
    return and_(
        sub.source == source,
        sub.started_at <= at,
        or_(sub.ended_at.is_(None), sub.ended_at > at),
    )


def events_population(source: str, as_of: datetime) -> Select[Any]:
    """Ids with a subscription active at ``as_of``."""
    return (
        select(source_subscriptions.c.customer_id).where(_active(source, literal(as_of))).distinct()
    )


def _bounds(source: str, *, engine: Engine) -> tuple[datetime | None, datetime | None]:
    """(data start, watermark): the first moment both files hold data, the latest fact."""
    e, s = source_events.c, source_subscriptions.c
    query = select(
        select(func.min(e.event_time)).where(e.source == source).scalar_subquery(),
        select(func.min(s.started_at)).where(s.source == source).scalar_subquery(),
        select(func.max(e.event_time)).where(e.source == source).scalar_subquery(),
        select(func.max(s.started_at)).where(s.source == source).scalar_subquery(),
        select(func.max(s.ended_at)).where(s.source == source).scalar_subquery(),
    )
    with engine.connect() as conn:
        first_event, first_sub, *latest = conn.execute(query).one()
    starts = [_dt(v) for v in (first_event, first_sub) if v is not None]
    ends = [_dt(v) for v in latest if v is not None]
    start = max(starts) if len(starts) == 2 else None
    return start, (max(ends) if ends else None)


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def events_watermark(source: str, *, engine: Engine) -> datetime | None:
    """The latest fact of an events source (event, subscription start or end)."""
    return _bounds(source, engine=engine)[1]


def available_cutoffs(
    source: str, *, engine: Engine, horizon_days: int, every: str | None = None
) -> list[datetime]:
    """Cutoffs every ``every`` (the spec's ``cutoff_every``; None: ``default_cadence`` of the
    history) from the data start whose horizon has elapsed by the watermark."""
    first, now = _bounds(source, engine=engine)
    every = every or default_cadence(first, now, horizon_days=horizon_days)
    return cutoff_moments(first, now, horizon_days=horizon_days, every=every)


def events_labels(
    source: str, cutoffs: Sequence[datetime], horizon_days: int, *, engine: Engine
) -> pd.DataFrame:
    """customer_id, as_of, label for everyone active at each cutoff.

    label = 1 when none of the customer's subscriptions active at the cutoff is open-ended and
    the last of them ends within the horizon.
    """
    moments = sorted(set(cutoffs))
    ends = [m + timedelta(days=horizon_days) for m in moments]
    table = moments_table(moments, horizon_end=ends)
    sub = source_subscriptions.c
    grouped = (
        select(
            sub.customer_id,
            table.c.as_of,
            table.c.horizon_end,
            func.max(case((sub.ended_at.is_(None), 1), else_=0)).label("open"),
            func.max(sub.ended_at).label("last_end"),
        )
        .select_from(table.join(source_subscriptions, _active(source, table.c.as_of)))
        .group_by(sub.customer_id, table.c.as_of, table.c.horizon_end)
        .subquery("active")
    )
    ends_at = case((grouped.c.open == 0, grouped.c.last_end), else_=None)
    return fetch_labels(grouped, ends_at=ends_at, engine=engine)


def latest_population(
    source: str, kind: str, *, engine: Engine, as_of: datetime | None = None
) -> tuple[datetime, Select[Any]]:
    """(moment, SELECT of its customer ids): the customers to serve at ``as_of`` (default: the
    source's latest data) — the latest snapshot's rows that have not churned, or everyone with
    an active subscription."""
    if kind == "snapshot":
        moment = as_of or latest_snapshot(source, engine=engine)
        return moment, snapshot_population(source, moment)
    watermark = events_watermark(source, engine=engine)
    if watermark is None:
        raise SpecError(f"source {source!r} holds no events; ingest it first")
    moment = as_of or watermark
    return moment, events_population(source, moment)
