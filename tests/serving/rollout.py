"""Helpers of the rollout tests: the follower as a process, and which version answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def follower_process(
    port: int, env: dict[str, str], workdir: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m ops.rollout`` on ``port`` (registry read every second), in a session of its
    own; SIGTERM to its whole group afterwards (proxy and servers with it)."""
    cmd = [sys.executable, "-m", "ops.rollout", "--port", str(port), "--poll-s", "1"]
    follower = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield follower
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(timeout=60)


def served_version(url: str, customer: str) -> str | None:
    """The ``model_version`` of ``url``'s answer to ``/predict`` (None: no 200 answer)."""
    try:
        answer = httpx.post(f"{url}/predict", json={"customer_ids": [customer]}, timeout=5)
    except httpx.HTTPError:
        return None
    return str(answer.json()["model_version"]) if answer.status_code == 200 else None


def until_served(url: str, customer: str, version: str, timeout_s: float) -> float:
    """Seconds until ``version`` answers at ``url``; fails the test after ``timeout_s``."""
    started = time.monotonic()
    while served_version(url, customer) != version:
        assert time.monotonic() - started < timeout_s, f"v{version} not served in {timeout_s} s"
        time.sleep(0.2)
    return time.monotonic() - started
