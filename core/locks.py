"""Cross-process locks: an advisory lock in a PostgreSQL database, or a lock file (SQLite).

Both block other threads and processes, are released when their holder dies (the OS closes the
file, the server ends the session), and report how long the caller waited.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
_POLL_S = 0.05


class LockTimeoutError(TimeoutError):
    """Another process held the lock for longer than the caller was willing to wait."""


@dataclass
class Held:
    """A held lock: how long acquiring it took (0 when it was free)."""

    waited_s: float = 0.0


def lock_key(namespace: str, name: str) -> int:
    """Stable signed 64-bit advisory-lock key for ``namespace:name``."""
    digest = hashlib.sha256(f"{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def database_lock(url: str, *, name: str, timeout_s: float, what: str) -> Iterator[Held]:
    """Hold lock ``name`` for the database at ``url``: an advisory lock on PostgreSQL, a file
    ``<database>.<name>.lock`` next to a SQLite file. ``what`` names the work in messages."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        key = lock_key("churn", name)
        with advisory_lock(parsed, key=key, timeout_s=timeout_s, what=what) as held:
            yield held
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        lock_file = path.with_name(f"{path.name}.{name}.lock")
        with file_lock(lock_file, timeout_s=timeout_s, what=what) as held:
            yield held
    else:  # in-memory SQLite or another backend: one process only, nothing to serialize with
        yield Held()


def _acquire(try_once: Callable[[], bool], *, timeout_s: float, what: str, holder: str) -> float:
    """Poll ``try_once`` until it takes the lock; the seconds waited, or LockTimeoutError."""
    started = time.monotonic()
    waiting = False
    while not try_once():
        if not waiting:
            log.info("%s: waiting for another process holding %s", what, holder)
            waiting = True
        if time.monotonic() - started > timeout_s:
            raise LockTimeoutError(
                f"{what} waited {timeout_s:.0f} s for another process holding {holder}; wait "
                "for it to finish (or stop it if it hangs)"
            )
        time.sleep(_POLL_S)
    return time.monotonic() - started


@contextmanager
def advisory_lock(url: URL, *, key: int, timeout_s: float, what: str) -> Iterator[Held]:
    """A session advisory lock held on a connection of its own for the duration of the block."""
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    holder = f"advisory lock {key} on {url.render_as_string()} (see pg_locks)"
    try:
        with engine.connect() as conn:

            def try_once() -> bool:
                query = text("SELECT pg_try_advisory_lock(:k)")
                return bool(conn.execute(query, {"k": key}).scalar())

            waited = _acquire(try_once, timeout_s=timeout_s, what=what, holder=holder)
            try:
                yield Held(waited_s=waited)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


@contextmanager
def file_lock(path: Path, *, timeout_s: float, what: str) -> Iterator[Held]:
    """An exclusive ``flock`` on ``path`` (created with its folder if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh open file description per holder: flock then excludes other threads too
    with path.open("a+") as fh:

        def try_once() -> bool:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        waited = _acquire(try_once, timeout_s=timeout_s, what=what, holder=str(path))
        try:
            yield Held(waited_s=waited)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
