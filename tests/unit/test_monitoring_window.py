"""Monitoring windows are fixed intervals on the UTC grid: reruns inside one share it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tasks.monitoring.store import monitor_window


@pytest.mark.parametrize(
    ("hours", "now", "start"),
    [
        (24, datetime(2026, 12, 7, 0, 0), datetime(2026, 12, 7)),
        (24, datetime(2026, 12, 7, 23, 59, 59), datetime(2026, 12, 7)),
        (6, datetime(2026, 12, 7, 13, 15), datetime(2026, 12, 7, 12)),
        (1, datetime(2026, 12, 7, 13, 15), datetime(2026, 12, 7, 13)),
        (0.5, datetime(2026, 12, 7, 13, 45), datetime(2026, 12, 7, 13, 30)),
    ],
)
def test_the_window_holding_now_is_on_the_utc_grid(
    hours: float, now: datetime, start: datetime
) -> None:
    assert monitor_window(hours=hours, now=now) == (start, start + timedelta(hours=hours))


def test_runs_within_one_window_share_it_and_the_next_window_follows() -> None:
    day = datetime(2026, 12, 7)
    first = monitor_window(hours=24, now=day + timedelta(hours=1, minutes=15))
    later = monitor_window(hours=24, now=day + timedelta(hours=22, minutes=15))
    following = monitor_window(hours=24, now=day + timedelta(days=1, minutes=15))
    assert first == later
    assert following == (first[1], first[1] + timedelta(days=1))


def test_an_explicit_end_gives_the_interval_before_it() -> None:
    end = datetime(2026, 12, 7, 5, 30)
    assert monitor_window(hours=24, now=datetime(2027, 1, 1), end=end) == (
        end - timedelta(days=1),
        end,
    )
