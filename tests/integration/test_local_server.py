"""The local Prefect server of `make up` / `make demo` outlives the command that started it.

Regression: started with `prefect server start --background`, the server's stdout and stderr were
pipes to the starting CLI, which exits at once; the server then died on its next write to
stderr (twice within minutes of `make up`, once a deployment ran)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_cli(action: str, home: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "PREFECT_"))}
    env.update(CHURN_HOME=str(home), PYTHONPATH=str(PROJECT))
    return subprocess.run(
        [sys.executable, "-m", "ops.server", action, "--port", str(port)],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_server_outlives_its_starter_logs_to_a_file_and_stops(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _free_port()
    started = _server_cli("start", home, port)
    assert started.returncode == 0, started.stderr
    record = home / "prefect" / "server.json"
    pid = json.loads(record.read_text())["pid"]
    server = psutil.Process(pid)
    try:
        log = (home / "prefect" / "server.log").resolve()
        for fd in (1, 2):  # no pipe to a process that has exited
            assert Path(os.readlink(f"/proc/{pid}/fd/{fd}")) == log
        api = f"http://127.0.0.1:{port}/api"
        for _ in range(50):  # requests the server logs (access log, 404 warnings)
            httpx.get(f"{api}/flow_runs/00000000-0000-0000-0000-000000000000", timeout=10)
        time.sleep(1)
        assert server.is_running()
        assert httpx.get(f"{api}/health", timeout=10).status_code == 200
        assert log.stat().st_size > 0
        stopped = _server_cli("stop", home, port)
        assert stopped.returncode == 0, stopped.stderr
        assert "stopped" in stopped.stdout
        server.wait(timeout=15)
        assert not record.exists()
    finally:
        if server.is_running():
            server.kill()
