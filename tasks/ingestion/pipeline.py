"""Throughput of the load loop: write-behind on server databases, fewer GC passes.

Write-behind: on PostgreSQL a write is mostly waiting for the server (GIL released), so reading
and checking chunk N+1 in Python overlaps with writing chunk N. SQLite writes in-process and holds
the GIL for much of the work, so there writes stay inline. At most one write is in flight, and the
warehouse connection is only ever used by one thread at a time.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from types import TracebackType

_GC_GEN0_THRESHOLD = 50_000
_gc_guard = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = gc.get_threshold()


class WriteBehind:
    """Run writes one at a time, one step behind the caller (or inline when not ``overlap``)."""

    def __init__(self, *, overlap: bool, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if overlap else None
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Start ``write`` once the previous one finished (re-raising its error)."""
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def wait(self) -> None:
        """Block until no write is in flight; raise the error of the last one, if any."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
            elif self._pending is not None:
                # Let the in-flight write finish before the caller rolls back; its own error,
                # if any, is secondary to the one already propagating.
                self._pending.exception()
                self._pending = None
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Collect young objects less often while loading.

    A chunk creates hundreds of thousands of short-lived objects (rows, values); with the default
    threshold the collector scans them hundreds of times per chunk, about a fifth of the CPU time
    of a billing load. Shared by concurrent runs: the first raises it, the last restores it.
    """
    global _gc_users, _gc_saved
    with _gc_guard:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(_GC_GEN0_THRESHOLD, *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_guard:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
