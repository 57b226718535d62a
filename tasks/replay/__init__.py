"""The replay's building blocks: the weeks it steps through, prediction traffic from a bounded
client, and the timeline it ends with (``flows.replay`` wires them)."""

from tasks.replay.timeline import WeekRow, timeline_markdown, timeline_rows, week_ends
from tasks.replay.traffic import TrafficResult, send_traffic

__all__ = [
    "TrafficResult",
    "WeekRow",
    "send_traffic",
    "timeline_markdown",
    "timeline_rows",
    "week_ends",
]
