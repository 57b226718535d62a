"""Helpers shared by the benchmarks: one JSON line per figure, peak memory."""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import threading
from pathlib import Path
from types import TracebackType


def emit(name: str, value: float, unit: str, **extra: object) -> None:
    """Print one figure as a JSON line, e.g. {"name": "ingest.rows_per_s.sqlite", ...}."""
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit, **extra}))
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TreeRss:
    """Peak of the resident memory of this process plus all its descendants at the same moment,
    sampled from /proc every ``interval`` s (Linux). ``peak_mb`` is at least this process's own
    exact peak; a child's spike shorter than the interval can be missed."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return max(self._peak_kib / 1024, peak_rss_mb())

    def _run(self) -> None:
        page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
        while not self._stop.wait(self.interval):
            pages = sum(_rss_pages(pid) for pid in _tree(os.getpid()))
            self._peak_kib = max(self._peak_kib, pages * page_kib)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:  # the process ended meanwhile: nothing to add
                continue
    return found


def _rss_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:  # ended meanwhile
        return 0
