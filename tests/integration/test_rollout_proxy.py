"""The rollout follower's proxy, run as ``make up`` runs it: before any champion it answers 503
saying so, writes nothing to the user's home, and goes away with the follower; a taken port is
refused in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port

PROJECT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, user_home: Path) -> dict[str, str]:
    hidden = ("CHURN_", "PYTEST_", "XDG_", "BENTOML_", "PREFECT_", "MLFLOW_")
    return {k: v for k, v in os.environ.items() if not k.startswith(hidden)} | {
        "PYTHONPATH": str(PROJECT),
        "CHURN_HOME": str(tmp_path / "home"),
        "HOME": str(user_home),
    }


def _follower(port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ops.rollout", "--port", str(port)],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def test_rollout_proxy_without_champion_says_so_and_stops_with_the_follower(
    tmp_path: Path,
) -> None:
    user_home = tmp_path / "user"
    user_home.mkdir()  # writable: what a tool would write there shows up below
    port = _free_port()
    follower = _follower(port, _env(tmp_path, user_home), tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert follower.poll() is None, follower.communicate()[1][-2000:]
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the proxy never answered"
                time.sleep(0.3)
        assert answer.status_code == 503
        assert "no churn-model champion is served yet" in answer.text
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(timeout=30)
    with pytest.raises(httpx.ConnectError):  # the proxy went with the follower
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert sorted(str(p.relative_to(user_home)) for p in user_home.rglob("*")) == []
    assert (tmp_path / "home" / "caddy").is_dir()  # Caddy's own state: under CHURN_HOME


def test_rollout_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        follower = _follower(port, _env(tmp_path, Path.home()), tmp_path)
        _, err = follower.communicate(timeout=120)
    assert follower.returncode == 1
    lines = [line for line in err.splitlines() if line.startswith("python -m ops.rollout")]
    assert len(lines) == 1 and f"port {port} is taken" in lines[0], err[-2000:]
    assert "Traceback" not in err
