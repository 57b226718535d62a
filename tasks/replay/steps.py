"""Prefect tasks of the replay: reveal a week of exports, send a week of traffic, read back the
week's drift figures, publish the timeline."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from sqlalchemy import Engine, func, select

from core.db import make_engine
from core.settings import get_settings
from core.tables import monitoring_metrics, prediction_log
from simulator.reveal import Revealed, reveal
from tasks.replay.timeline import WeekRow, plot_timeline, timeline_markdown
from tasks.replay.traffic import TrafficResult, send_traffic

log = logging.getLogger(__name__)
TIMELINE_KEY = "replay-timeline"


@task(cache_policy=NONE)
def reveal_exports(history: str, until: datetime) -> Revealed:
    """Show ingestion the simulated exports up to ``until`` (settings.sources_dir)."""
    revealed = reveal(Path(history), get_settings().sources_dir, until)
    log.info(
        "exports up to %s: %d rows in month files, %d new billing events",
        until,
        revealed.file_rows,
        revealed.billing_events,
    )
    return revealed


@task(cache_policy=NONE)
def send_week_traffic(
    url: str, *, seed: int, week: int, customers: int, at: datetime
) -> TrafficResult:
    """Ask the API for ``customers`` customers of the online store, drawn by (seed, week), at
    the clock's ``at``; return once the API's prediction log holds every answer."""
    from tasks.features.lookup import builtin_view, online_customer_ids

    engine = make_engine(get_settings().database_url)
    ids = sorted(online_customer_ids(builtin_view().name, engine=engine))
    rng = np.random.default_rng([seed, week])
    chosen = sorted(rng.choice(ids, size=min(customers, len(ids)), replace=False).tolist())
    result = send_traffic(url, chosen)
    # the API logs in the background (every 0.2 s): monitoring must see the whole week's
    # traffic, or the same seed could give another drift share
    wait_logged(engine, at=at, rows=result.answered_ids)
    log.info(
        "%d requests (%d customers) to %s: %d failed, versions %s",
        result.requests,
        len(chosen),
        url,
        result.failed,
        result.versions,
    )
    return result


def wait_logged(engine: Engine, *, at: datetime, rows: int, timeout_s: float = 30.0) -> int:
    """Wait until ``prediction_log`` holds ``rows`` predictions made at ``at``; how many it
    holds (a warning when fewer after ``timeout_s``: the API dropped some)."""
    t = prediction_log.c
    query = select(func.count()).where(
        t.model_name == get_settings().model_name, t.predicted_at == at
    )
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            logged = int(conn.execute(query).scalar_one())
        if logged >= rows:
            return logged
        if time.monotonic() > deadline:
            log.warning("%d of %d predictions at %s in prediction_log", logged, rows, at)
            return logged
        time.sleep(0.2)


@task(cache_policy=NONE)
def drift_figures(monitor_run_id: str) -> dict[str, float | None]:
    """The monitoring run's drift share and verdict, as it stored them."""
    engine = make_engine(get_settings().database_url)
    query = select(monitoring_metrics.c.metric, monitoring_metrics.c.value).where(
        monitoring_metrics.c.monitor_run_id == monitor_run_id,
        monitoring_metrics.c.metric.in_(["drift.share", "drift.detected"]),
    )
    with engine.connect() as conn:
        return {str(metric): value for metric, value in conn.execute(query)}


@task(cache_policy=NONE)
def publish_timeline(rows: list[WeekRow], *, title: str, drift_from: datetime | None) -> Path:
    """The ``replay-timeline`` markdown artifact, ``reports/replay-timeline.png`` and the rows
    as ``reports/replay-timeline.json``."""
    path = plot_timeline(
        rows, get_settings().reports_dir / "replay-timeline.png", drift_from=drift_from
    )
    rows_json = [{**asdict(row), "until": row.until.isoformat()} for row in rows]
    path.with_suffix(".json").write_text(json.dumps(rows_json, indent=1), encoding="utf-8")
    markdown = timeline_markdown(rows, title=title) + f"\nPlot: `{path}`\n"
    create_markdown_artifact(markdown=markdown, key=TIMELINE_KEY, description=title)
    return path
