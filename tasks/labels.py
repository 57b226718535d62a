"""Churn labels and training sets.

Population at a cutoff = customers active at that moment (see ``tasks.features.population``);
label = 1 when the latest known cancel_date falls in ``(cutoff, cutoff + horizon_days]``.
A cutoff is only usable once its whole horizon lies before the data watermark; otherwise
customers who will cancel inside the horizon would be labelled 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, case, select

from tasks.features.population import active_customers, data_start, data_watermark, moments_table
from tasks.features.retrieval import get_historical_features


def available_cutoffs(
    *, engine: Engine, horizon_days: int, now: datetime | None = None
) -> list[datetime]:
    """Month starts whose label horizon has fully elapsed by ``now``, from the first month start
    at which every source has delivered data.

    ``now`` defaults to the warehouse's data watermark (``data_watermark``). Earlier cutoffs are
    left out: CRM history reaches back to each customer's signup, but billing and helpdesk data
    (and customers who left before the first export) do not.
    """
    _check_horizon(horizon_days)
    now = now if now is not None else data_watermark(engine=engine)
    first = data_start(engine=engine)
    if now is None or first is None:
        return []
    cutoff = _month_start(first) if _month_start(first) == first else _next_month(first)
    cutoffs: list[datetime] = []
    while cutoff + timedelta(days=horizon_days) <= now:
        cutoffs.append(cutoff)
        cutoff = _next_month(cutoff)
    return cutoffs


def build_labels(
    cutoffs: Sequence[datetime],
    horizon_days: int,
    *,
    engine: Engine,
    now: datetime | None = None,
) -> pd.DataFrame:
    """customer_id, as_of, label (0/1) for everyone active at each cutoff, sorted by both.

    Raises ValueError naming every cutoff whose horizon ends after ``now`` (default: the
    data watermark).
    """
    moments = sorted(set(cutoffs))
    _check_elapsed(moments, horizon_days, engine=engine, now=now)
    ends = [moment + timedelta(days=horizon_days) for moment in moments]
    population = active_customers(moments_table(moments, horizon_end=ends)).subquery("population")
    churned = and_(
        population.c.cancel_date > population.c.as_of,
        population.c.cancel_date <= population.c.horizon_end,
    )
    query = select(
        population.c.customer_id,
        population.c.as_of,
        case((churned, 1), else_=0).label("label"),
    ).order_by(population.c.as_of, population.c.customer_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "as_of", "label"])
    return frame.astype({"customer_id": object, "as_of": "datetime64[ns]", "label": "int64"})


def build_training_set(
    cutoffs: Sequence[datetime],
    horizon_days: int,
    *,
    engine: Engine,
    now: datetime | None = None,
) -> pd.DataFrame:
    """customer_id, as_of, label + every feature as known at as_of, one row per labelled case."""
    labels = build_labels(cutoffs, horizon_days, engine=engine, now=now)
    return get_historical_features(labels, engine=engine)


def _check_horizon(horizon_days: int) -> None:
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days}")


def _check_elapsed(
    cutoffs: Sequence[datetime], horizon_days: int, *, engine: Engine, now: datetime | None
) -> None:
    """Refuse cutoffs whose label horizon has not fully elapsed by ``now``."""
    _check_horizon(horizon_days)
    if not cutoffs:
        raise ValueError("no cutoffs given; see available_cutoffs() for the usable ones")
    if now is None:
        now = data_watermark(engine=engine)
        if now is None:
            raise ValueError("the warehouse holds no data yet; run the ingest flow first")
    early = [c for c in cutoffs if c + timedelta(days=horizon_days) > now]
    if early:
        shown = ", ".join(c.isoformat() for c in early)
        latest = (now - timedelta(days=horizon_days)).isoformat()
        raise ValueError(
            f"cutoff(s) {shown}: the {horizon_days}-day label horizon ends after the data"
            f" watermark {now.isoformat()}; use cutoffs <= {latest}"
            " (see available_cutoffs)"
        )


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1)


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
