"""Serialize the registry's read-decide-write sections with a Prefect global concurrency limit.

One slot per model name on the Prefect server: every process that gates or rolls back the same
model (on SQLite, PostgreSQL or a remote MLflow server alike) waits for it. A holder that dies
keeps the slot until its lease expires (``LEASE_S``); the next holder then repairs the registry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists

log = logging.getLogger(__name__)
LEASE_S = 60.0  # the server's minimum; renewed while held, so only a dead holder's slot expires
WAIT_S = 600.0


def limit_name(model_name: str) -> str:
    """The concurrency limit guarding ``model_name``'s registry entries."""
    return "churn-registry-" + re.sub(r"[^A-Za-z0-9_-]", "-", model_name)


def ensure_limit(name: str) -> None:
    """Create the one-slot limit ``name`` unless it exists (two processes may race: fine)."""
    # another process may create it between the read and the create inside the upsert
    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.upsert_global_concurrency_limit_by_name(name, 1)


@contextmanager
def registry_lock(model_name: str, *, timeout_s: float = WAIT_S) -> Iterator[None]:
    """Hold the registry slot of ``model_name``; TimeoutError when busy for ``timeout_s``."""
    name = limit_name(model_name)
    ensure_limit(name)
    with concurrency(
        name, occupy=1, timeout_seconds=timeout_s, lease_duration=LEASE_S, strict=True
    ):
        yield
