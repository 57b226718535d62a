"""A cross-process lock around the registry's read-decide-write sections.

PostgreSQL tracking store → a session advisory lock in that database; SQLite tracking store → an
``fcntl`` lock on a file next to the database. Both block other threads and other processes.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
_POLL_S = 0.05


def lock_key(name: str) -> int:
    """Stable signed 64-bit advisory-lock key for a lock name."""
    digest = hashlib.sha256(f"churn-registry:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def registry_lock(*, tracking_uri: str, name: str, timeout_s: float = 300.0) -> Iterator[None]:
    """Hold the registry lock of ``name`` on the ``tracking_uri`` store; TimeoutError if busy."""
    url = make_url(tracking_uri)
    backend = url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(url, key=lock_key(name), timeout_s=timeout_s):
            yield
    elif backend == "sqlite" and url.database and url.database != ":memory:":
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        path = Path(url.database).with_name(f"{Path(url.database).name}.{safe}.registry.lock")
        with _file_lock(path, timeout_s=timeout_s):
            yield
    else:
        raise ValueError(
            f"no cross-process registry lock for tracking store {url.render_as_string()}: "
            "use a PostgreSQL or file-based SQLite MLflow backend (CHURN_MLFLOW_TRACKING_URI)"
        )


@contextmanager
def _advisory_lock(url: URL, *, key: int, timeout_s: float) -> Iterator[None]:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + timeout_s
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"registry advisory lock {key} on {url.render_as_string()} still held by "
                        f"another session after {timeout_s:.0f} s; see pg_locks for the holder"
                    )
                time.sleep(_POLL_S)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


@contextmanager
def _file_lock(path: Path, *, timeout_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh open file description per holder: flock then excludes other threads too
    with path.open("a+") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"registry lock file {path} still held after {timeout_s:.0f} s; "
                        "another training or rollback is running (or hung)"
                    ) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
