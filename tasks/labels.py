"""Churn labels and training sets.

Population at a cutoff = customers active at that moment (see ``tasks.features.population``);
label = 1 when the latest known cancel_date falls in ``(cutoff, cutoff + horizon_days]``.
A cutoff is only usable once its whole horizon lies before the watermark of *every* source the
features and labels read (``tasks.features.clock``); otherwise customers who will cancel inside
the horizon would be labelled 0. A cutoff whose label rate is 0, or far below its neighbours', is
refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, String, Subquery, and_, case, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from core.names import to_naive_utc
from tasks.features.clock import DataReach, data_reach
from tasks.features.population import active_customers, data_start, moments_table
from tasks.features.retrieval import get_historical_features

# A cutoff whose churn rate is below this fraction of its neighbours' median is suspect: a
# source that lags, or data before the sources start, makes churners look like stayers.
MIN_RATE_VS_NEIGHBOURS = 0.25
# ... when the neighbours' rate expects at least this many churners there (Poisson: P(0 | 10) is
# 5e-5, P(<= 2 | 10) is 0.3%).
MIN_EXPECTED_CHURNERS = 10


def available_cutoffs(
    *, engine: Engine, horizon_days: int, now: datetime | None = None
) -> list[datetime]:
    """Month starts whose label horizon has fully elapsed by ``now``, from the first month start
    at which every source has delivered data.

    ``now`` defaults to the moment every source is complete through (``data_reach``). Earlier
    cutoffs are left out: CRM history reaches back to each customer's signup, but billing and
    helpdesk data (and customers who left before the first export) do not.
    """
    _check_horizon(horizon_days)
    now = to_naive_utc(now) if now is not None else data_reach(engine=engine).until
    return month_starts(data_start(engine=engine), now, horizon_days=horizon_days)


def month_starts(
    first: datetime | None, now: datetime | None, *, horizon_days: int
) -> list[datetime]:
    """Month starts from ``first`` on (itself when it is one) whose horizon ends by ``now``."""
    return cutoff_moments(first, now, horizon_days=horizon_days, every=MONTHLY)


MONTHLY = "1mo"
WEEKLY = "7d"
# A history that gives fewer monthly cutoffs than this gets weekly ones (default_cadence): a
# dozen train cutoffs, one validation and one holdout.
MIN_MONTHLY_CUTOFFS = 14
CADENCE = re.compile(r"^([1-9][0-9]{0,2})(d|w|mo)$")


def parse_cadence(every: str) -> tuple[int, str]:
    """``7d``, ``2w``, ``1mo`` → (count, unit); ValueError naming the accepted forms."""
    match = CADENCE.match(every)
    if not match:
        raise ValueError(f"cutoff cadence {every!r} is not <n>d, <n>w or <n>mo (e.g. 7d, 2w, 1mo)")
    return int(match.group(1)), match.group(2)


def cutoff_moments(
    first: datetime | None, now: datetime | None, *, horizon_days: int, every: str = MONTHLY
) -> list[datetime]:
    """Cutoffs every ``every`` (``<n>d``, ``<n>w``, ``<n>mo``) from ``first`` on — month starts
    for months, midnights for days and weeks, ``first`` itself when it is one — whose horizon
    ends by ``now``."""
    count, unit = parse_cadence(every)
    if now is None or first is None:
        return []
    if unit == "mo":
        cutoff = _month_start(first) if _month_start(first) == first else _next_month(first)
    else:
        midnight = datetime(first.year, first.month, first.day)
        cutoff = midnight if midnight == first else midnight + timedelta(days=1)
    step = timedelta(days=count * (7 if unit == "w" else 1))
    cutoffs: list[datetime] = []
    while cutoff + timedelta(days=horizon_days) <= now:
        cutoffs.append(cutoff)
        if unit == "mo":
            for _ in range(count):
                cutoff = _next_month(cutoff)
        else:
            cutoff += step
    return cutoffs


def default_cadence(first: datetime | None, now: datetime | None, *, horizon_days: int) -> str:
    """Monthly cutoffs when the history gives ``MIN_MONTHLY_CUTOFFS`` of them, else weekly (a
    short history: seven months give about 26 weekly cutoffs instead of 6 monthly ones)."""
    monthly = cutoff_moments(first, now, horizon_days=horizon_days, every=MONTHLY)
    return MONTHLY if len(monthly) >= MIN_MONTHLY_CUTOFFS else WEEKLY


def build_labels(
    cutoffs: Sequence[datetime],
    horizon_days: int,
    *,
    engine: Engine,
    now: datetime | None = None,
) -> pd.DataFrame:
    """customer_id, as_of, label (0/1) for everyone active at each cutoff, sorted by both.

    Raises ValueError naming every cutoff whose horizon ends after ``now`` (default: the
    watermark of the most lagging source, named in the message). Aware cutoffs become naive UTC.
    """
    moments = sorted({to_naive_utc(c) for c in cutoffs})
    check_elapsed(moments, horizon_days, engine=engine, now=now)
    ends = [moment + timedelta(days=horizon_days) for moment in moments]
    population = active_customers(moments_table(moments, horizon_end=ends)).subquery("population")
    return fetch_labels(population, ends_at=population.c.cancel_date, engine=engine)


def fetch_labels(
    population: Subquery, *, ends_at: ColumnElement[Any], engine: Engine
) -> pd.DataFrame:
    """customer_id, as_of, label of a population (customer_id, as_of, horizon_end, ...): 1 when
    ``ends_at`` (its lifecycle's end) falls in (as_of, horizon_end]; sorted by as_of, id."""
    churned = and_(ends_at > population.c.as_of, ends_at <= population.c.horizon_end)
    query = select(
        population.c.customer_id,
        # Raw driver values (SQLite's text, PostgreSQL's datetime): pandas converts the whole
        # column at once, SQLAlchemy would parse one string per row (most of the time it took).
        type_coerce(population.c.as_of, String).label("as_of"),
        case((churned, 1), else_=0).label("label"),
    ).order_by(population.c.as_of, population.c.customer_id)
    with engine.connect() as conn:
        # The DBAPI cursor's plain tuples: SQLAlchemy's Row objects cost more than the query
        # (2 of 7 s at 1.3M rows).
        result = conn.execute(query)
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "as_of", "label"])
    as_of = pd.to_datetime(frame["as_of"]) if len(frame) else frame["as_of"]
    frame["as_of"] = as_of
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


def check_elapsed(
    cutoffs: Sequence[datetime],
    horizon_days: int,
    *,
    engine: Engine,
    now: datetime | None = None,
) -> None:
    """Refuse cutoffs whose label horizon has not fully elapsed for every source by ``now``."""
    _check_horizon(horizon_days)
    if not cutoffs:
        raise ValueError("no cutoffs given; see available_cutoffs() for the usable ones")
    reach = None if now is not None else data_reach(engine=engine)
    limit = to_naive_utc(now) if now is not None else reach.until if reach else None
    if limit is None:
        raise ValueError(
            "the warehouse holds no data yet (or a source was never loaded: "
            f"{reach.describe() if reach else '-'}); run the ingest flow first"
        )
    early = [c for c in cutoffs if c + timedelta(days=horizon_days) > limit]
    if early:
        shown = ", ".join(c.isoformat() for c in early)
        latest = (limit - timedelta(days=horizon_days)).isoformat()
        raise ValueError(
            f"cutoff(s) {shown}: the {horizon_days}-day label horizon ends after "
            f"{_limit_name(reach, limit)}; use cutoffs <= {latest} (see available_cutoffs) or "
            "ingest the lagging source first"
        )


def _limit_name(reach: DataReach | None, limit: datetime) -> str:
    if reach is None:
        return f"now={limit.isoformat()}"
    source, _ = reach.lagging
    where = "committed watermark" if reach.from_ingestion_runs else "data watermark"
    return f"source {source!r}'s {where} {limit.isoformat()} (all sources: {reach.describe()})"


def check_label_rates(labels: pd.DataFrame) -> pd.Series:
    """Churn rate per cutoff; ValueError naming every cutoff with no churner, or a rate below
    ``MIN_RATE_VS_NEIGHBOURS`` × the median of the other cutoffs (labels judged too early).

    Only where the other cutoffs' median rate promises ``MIN_EXPECTED_CHURNERS`` or more among the
    cutoff's rows: a small population (a product's first weeks) can have no churner by chance.
    """
    grouped = labels.groupby("as_of")["label"]
    rates, sizes = grouped.mean(), grouped.size()
    bad = []
    for (as_of, rate), size in zip(rates.items(), sizes.to_numpy(), strict=True):
        others = rates.drop(index=as_of)
        median = float(others.median()) if len(others) else float("nan")
        floor = MIN_RATE_VS_NEIGHBOURS * median if len(others) else 0.0
        expected = median * int(size) if len(others) else float("inf")
        if (rate == 0 or rate < floor) and expected >= MIN_EXPECTED_CHURNERS:
            bad.append(f"{str(as_of)[:10]} (rate {rate:.4f}, others' median {median:.4f})")
    if bad:
        raise ValueError(
            f"label rate suspect at cutoff(s) {'; '.join(bad)}: a source lags or the data starts "
            "later than these cutoffs; ingest the missing data or pass explicit cutoffs"
        )
    return rates


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1)


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
