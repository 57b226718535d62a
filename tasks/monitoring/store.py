"""monitoring_metrics: one row per figure per monitoring run, labelled with the monitored model,
and each model's run history read back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, insert, select

from core.tables import monitoring_metrics
from monitoring.prometheus import Figure
from monitoring.trigger import RunVerdict

DRIFT_VERDICT = "drift.detected"
RETRAIN_REQUESTED = "retrain.requested"


def write_figures(
    figures: Iterable[Figure],
    *,
    engine: Engine,
    model_name: str,
    run_id: str,
    computed_at: datetime,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> int:
    """Insert every figure of one run of ``model_name`` in one transaction; return how many."""
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
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(monitoring_metrics), rows)
    return len(rows)


def drift_history(*, engine: Engine, model_name: str, limit: int = 50) -> list[RunVerdict]:
    """The drift verdicts of the model's latest runs, oldest first, with their drifted features."""
    t = monitoring_metrics.c
    query = (
        select(t.computed_at, t.value, t.labels)
        .where(t.metric == DRIFT_VERDICT, t.model_name == model_name)
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
