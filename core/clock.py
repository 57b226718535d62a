"""The one clock: wall time, or the simulated time of a replay.

A replay (``flows.replay``) moves time forward by writing one file, ``$CHURN_HOME/clock`` (an ISO
date-time, naive UTC). While it exists, ``utc_now`` returns the time it holds in every process of
that home — the flows, the Prefect worker's runs and the BentoML server — so the prediction log,
monitoring windows, labels' arrival and the retrain cooldown all follow simulated time. Removing
the file gives wall time back. Reading is cheap on a serving hot path: the file is looked at
(one ``stat``) at most every ``CHECK_EVERY_S`` and read again only when it changed.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CLOCK_FILE = "clock"
# A process sees a moved clock within this long; the replay waits as long after moving it.
CHECK_EVERY_S = 0.5


@dataclass
class _Seen:
    path: Path | None = None
    checked: float = float("-inf")  # time.monotonic() of the last stat
    stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file read, None: no file
    moment: datetime | None = None


_seen = _Seen()
_guard = threading.Lock()


def clock_path() -> Path:
    """Where this home's simulated clock lives (``$CHURN_HOME/clock``)."""
    from core.settings import get_settings

    return get_settings().home.resolve() / CLOCK_FILE


def wall_now() -> datetime:
    """Wall-clock time as naive UTC (durations and Prefect's own bookkeeping use this)."""
    return datetime.now(UTC).replace(tzinfo=None)


def simulated_now() -> datetime | None:
    """The simulated time of this home, or None when time is not simulated."""
    now = time.monotonic()
    with _guard:
        if now - _seen.checked < CHECK_EVERY_S:
            return _seen.moment
        _seen.checked = now
        path = clock_path()  # the home's settings may have changed (tests)
        if path != _seen.path:
            _seen.path, _seen.stamp, _seen.moment = path, None, None
        try:
            info = os.stat(path)
        except FileNotFoundError:
            _seen.stamp, _seen.moment = None, None
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != _seen.stamp:
            _seen.moment = _parse(path.read_text(encoding="utf-8"), path)
            _seen.stamp = stamp
        return _seen.moment


def _parse(text: str, path: Path) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{path} holds {text.strip()!r}, not an ISO date-time; fix it or delete the file "
            "to return to wall-clock time"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def set_clock(moment: datetime | None) -> None:
    """Move this home's clock to ``moment`` (naive UTC) for every process; None: wall time.

    Written atomically (a reader never sees half a date); this process sees it at once.
    """
    path = clock_path()
    if moment is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(moment.isoformat(), encoding="utf-8")
        os.replace(tmp, path)
    forget_clock()


def forget_clock() -> None:
    """Drop what this process remembers (the next call reads the file; tests, a new home)."""
    with _guard:
        _seen.path, _seen.checked, _seen.stamp, _seen.moment = None, float("-inf"), None, None
