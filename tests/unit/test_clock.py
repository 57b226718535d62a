"""The one clock: wall time, or the simulated time of this home's clock file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core import clock
from core.names import utc_now
from core.settings import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CHURN_HOME", str(tmp_path))
    get_settings.cache_clear()
    clock.forget_clock()
    yield tmp_path
    clock.forget_clock()
    get_settings.cache_clear()


def test_utc_now_wall_clock_without_file(home: Path) -> None:
    assert abs(utc_now() - clock.wall_now()) < timedelta(seconds=5)


def test_utc_now_follows_set_clock(home: Path) -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7)
    clock.set_clock(moment)
    assert utc_now() == moment
    assert (home / clock.CLOCK_FILE).read_text() == moment.isoformat()
    clock.set_clock(None)
    assert utc_now().year == clock.wall_now().year != moment.year


def test_utc_now_sees_another_process_move_the_clock(home: Path) -> None:
    clock.set_clock(datetime(2025, 1, 1))
    assert utc_now() == datetime(2025, 1, 1)
    code = (
        "from core.clock import set_clock; import datetime as d; set_clock(d.datetime(2025, 2, 1))"
    )
    env = {**os.environ, "CHURN_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    # cached for at most CHECK_EVERY_S, then read again: the serving hot path stats rarely
    clock._seen.checked -= clock.CHECK_EVERY_S
    assert utc_now() == datetime(2025, 2, 1)


def test_utc_now_aware_clock_file_becomes_naive_utc(home: Path) -> None:
    (home / clock.CLOCK_FILE).write_text("2025-06-01T02:00:00+02:00")
    assert utc_now() == datetime(2025, 6, 1)


def test_utc_now_unreadable_clock_file_names_it(home: Path) -> None:
    (home / clock.CLOCK_FILE).write_text("next tuesday")
    with pytest.raises(ValueError, match="not an ISO date-time"):
        utc_now()
