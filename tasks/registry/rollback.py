"""Rollback: move ``champion`` back to the previous champion, recorded crash-safely."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.names import (
    CHAMPION,
    TAG_RESTORED_AT,
    TAG_ROLLBACK_REASON,
    TAG_ROLLED_BACK_AT,
    TAG_ROLLED_BACK_TO,
    utc_now,
)
from tasks.registry.lock import registry_lock
from tasks.registry.store import (
    Writes,
    active_champions,
    model_name,
    registry_client,
    repair_registry,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rollback:
    """The champion alias moved from ``from_version`` back to ``to_version``."""

    from_version: str
    to_version: str
    reason: str


def rollback_to_previous(*, reason: str = "manual rollback", name: str | None = None) -> Rollback:
    """Move ``champion`` back to the previous champion in the history, and record it.

    Writes: target and reason, then ``rolled_back_at`` (the commit), then ``restored_at`` and
    the alias — which ``repair_registry`` completes if the process dies after the commit.
    """
    client, name = registry_client(), model_name(name)
    with registry_lock(name):
        repair_registry(client, name)
        active = active_champions(client, name)
        if len(active) < 2:
            raise RuntimeError(
                f"nothing to roll back to: {name!r} has champion {active[-1] if active else None}"
                f" and no earlier champion in its history ({active}); train and promote first"
            )
        champion, previous = active[-1], active[-2]
        writes, now = Writes(client, name), utc_now().isoformat()
        writes.tag(champion, TAG_ROLLED_BACK_TO, previous)
        writes.tag(champion, TAG_ROLLBACK_REASON, reason)
        writes.tag(champion, TAG_ROLLED_BACK_AT, now)
        writes.tag(previous, TAG_RESTORED_AT, now)
        writes.alias(CHAMPION, previous)
    log.info("rollback: %s champion v%s -> v%s (%s)", name, champion, previous, reason)
    return Rollback(from_version=champion, to_version=previous, reason=reason)
