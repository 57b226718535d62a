"""Flow ``replay-report``: the replay's timeline as the Prefect artifact ``replay-timeline`` and
the PNG ``$CHURN_HOME/reports/replay-timeline.png`` (run by ``flows.replay`` at its end)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from tasks.replay.timeline import WeekRow


@flow(name="replay-report")
def replay_report(rows: list[WeekRow], drift_from: datetime | None = None) -> str:
    """Publish the timeline of ``rows`` (one per simulated week)."""
    from tasks.replay.steps import publish_timeline

    first, last = rows[0].until, rows[-1].until
    title = f"Replay timeline, {len(rows)} weeks to {last:%Y-%m-%d} (from {first:%Y-%m-%d})"
    return str(publish_timeline(rows, title=title, drift_from=drift_from))
