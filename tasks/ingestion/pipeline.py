"""Write-behind for server databases: chunk N is written while chunk N+1 is read and checked.

On PostgreSQL the write is mostly waiting for the server (GIL released), so reading the source
and checking the next chunk in Python overlaps with it. SQLite writes in-process and holds the
GIL for much of the work, so there writes stay inline. At most one write is in flight, and the
warehouse connection is only ever used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


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
