"""monitoring_metrics: one row per figure per monitored window, labelled with the monitored model,
and each model's window history read back.

A window is a fixed interval: by default the one of ``window_hours`` on the UTC epoch grid that
holds the run's time (24 h: the UTC day; the hourly schedule refines the day's result), or the
interval that ends at an explicit ``window_end``. Monitoring the same window again replaces its
rows, so a window counts once toward the K consecutive drifted windows however often it runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select

from core.tables import monitoring_metrics
from monitoring.prometheus import Figure
from monitoring.trigger import RunVerdict

DRIFT_VERDICT = "drift.detected"
RETRAIN_REQUESTED = "retrain.requested"
log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1)
Window = tuple[datetime, datetime]


def monitor_window(*, hours: float, now: datetime, end: datetime | None = None) -> Window:
    """The window [start, end) a run monitors: the interval of ``hours`` on the UTC epoch grid
    that holds ``now`` (naive UTC), or the one that ends at ``end`` when given."""
    width = timedelta(hours=hours)
    if end is not None:
        return end - width, end
    start = _EPOCH + ((now - _EPOCH) // width) * width
    return start, start + width


def write_figures(
    figures: Iterable[Figure],
    *,
    engine: Engine,
    model_name: str,
    run_id: str,
    computed_at: datetime,
    window: Window,
) -> int:
    """Replace the figures of ``model_name``'s ``window`` by this run's, in one transaction;
    return how many."""
    rows = [
        {
            "model_name": model_name,
            "monitor_run_id": run_id,
            "metric": f.name,
            "value": f.value,
            "labels": dict(f.labels) or None,
            "window_start": window[0],
            "window_end": window[1],
            "computed_at": computed_at,
        }
        for f in figures
    ]
    t = monitoring_metrics.c
    with engine.begin() as conn:
        replaced = conn.execute(
            delete(monitoring_metrics).where(
                t.model_name == model_name, t.window_start == window[0], t.window_end == window[1]
            )
        ).rowcount
        if rows:
            conn.execute(insert(monitoring_metrics), rows)
    if replaced:
        log.info(
            "%s: window [%s, %s) monitored again: its %d earlier figures replaced",
            model_name,
            *window,
            replaced,
        )
    return len(rows)


def drift_history(
    *, engine: Engine, model_name: str, limit: int = 50, besides: Window | None = None
) -> list[RunVerdict]:
    """The drift verdicts of the model's latest windows (``besides`` left out: the window being
    monitored again), oldest first, with their drifted features."""
    t = monitoring_metrics.c
    others = (
        or_(
            t.window_start.is_(None),
            t.window_end.is_(None),
            t.window_start != besides[0],
            t.window_end != besides[1],
        )
        if besides
        else t.id.is_not(None)
    )
    query = (
        select(t.computed_at, t.value, t.labels)
        .where(t.metric == DRIFT_VERDICT, t.model_name == model_name, others)
        .order_by(t.computed_at.desc(), t.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    verdicts = []
    for at, value, labels in reversed(rows):
        labels = json.loads(labels) if isinstance(labels, str) else (labels or {})
        features = tuple(f for f in str(labels.get("features", "")).split(",") if f)
        verdicts.append(RunVerdict(at=at, drift=bool(value), drifted_features=features))
    return verdicts


def last_request(*, engine: Engine, model_name: str) -> datetime | None:
    """When monitoring last asked to retrain ``model_name`` (None if never)."""
    t = monitoring_metrics.c
    query = select(t.computed_at).where(
        t.metric == RETRAIN_REQUESTED, t.value == 1.0, t.model_name == model_name
    )
    with engine.connect() as conn:
        return conn.execute(query.order_by(t.computed_at.desc()).limit(1)).scalar()
