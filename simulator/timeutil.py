"""Time as int64 seconds since the epoch (naive UTC), and fast vectorized formatting."""

from __future__ import annotations

import datetime as dt

import numpy as np

DAY = 86_400
HOUR = 3_600
NEVER = np.int64(2**62)  # "not (yet) happened": later than any simulated time


def month_starts(start: dt.date, months: int) -> np.ndarray:
    """Start of each simulated month plus the end of the last one (``months + 1`` values)."""
    first = np.datetime64(start.replace(day=1), "M")
    bounds = (first + np.arange(months + 1)).astype("datetime64[s]")
    return bounds.astype(np.int64)


def to_datetime(seconds: int | np.integer) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(seconds))


def iso_seconds(seconds: np.ndarray, sep: str = "T") -> np.ndarray:
    """``YYYY-MM-DD<sep>HH:MM:SS`` strings (unicode array) for int64 seconds."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    if sep != "T" and len(text):
        text = np.ascontiguousarray(text)
        text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(sep)
    return text


def iso_dates(seconds: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings for int64 seconds."""
    return np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[D]"), unit="D")


def month_label(seconds: int | np.integer) -> str:
    """``YYYY-MM`` of a month start."""
    return str(np.datetime64(int(seconds), "s").astype("datetime64[M]"))


def malformed(seconds: int | np.integer, sep: str = "T") -> str:
    """An unparseable timestamp that still sorts inside its month (day 32, hour 25)."""
    return f"{month_label(seconds)}-32{sep}25:61:00"


def numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded ``numbers`` (unicode array), without a Python loop."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = len(head) + width
    buf = np.empty((len(numbers), size), dtype=np.uint8)
    buf[:, : len(head)] = head
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    buf[:, len(head) :] = (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10 + 48
    return buf.view(f"S{size}").ravel().astype(f"U{size}")
