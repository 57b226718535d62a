"""Prediction traffic against the running API from a bounded client.

At most ``concurrency`` requests are in flight; each asks ``/predict`` for one batch of customer
ids. A failed request is a connection error, a timeout or a non-2xx answer; the client does not
retry, so every failure is counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrafficResult:
    requests: int
    failed: int
    versions: dict[str, int] = field(default_factory=dict)  # model version → answered requests
    errors: list[str] = field(default_factory=list)  # the first few failures, as said
    answered_ids: int = 0  # customer ids in the answered requests

    @property
    def served(self) -> str:
        """The versions that answered, ascending ("3", or "3,4")."""
        return ",".join(sorted(self.versions, key=lambda v: (len(v), v)))


def send_traffic(
    url: str,
    customer_ids: Sequence[str],
    *,
    batch: int = 50,
    concurrency: int = 4,
    timeout_s: float = 5.0,
) -> TrafficResult:
    """POST ``customer_ids`` to ``url``/predict in batches; count answers and failures."""
    batches = [list(customer_ids[i : i + batch]) for i in range(0, len(customer_ids), batch)]
    versions: Counter[str] = Counter()
    errors: list[str] = []
    answered: list[int] = []
    with httpx.Client(base_url=url, timeout=timeout_s) as client:

        def one(ids: list[str]) -> str | None:
            try:
                answer = client.post("/predict", json={"customer_ids": ids})
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return None
            if not answer.is_success:
                errors.append(f"HTTP {answer.status_code}: {answer.text[:200]}")
                return None
            answered.append(len(ids))
            return str(answer.json()["model_version"])

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for version in pool.map(one, batches):
                if version is not None:
                    versions[version] += 1
    failed = len(batches) - sum(versions.values())
    if failed:
        log.warning(
            "%d of %d requests to %s failed; first: %s", failed, len(batches), url, errors[0]
        )
    return TrafficResult(len(batches), failed, dict(versions), errors[:5], sum(answered))
