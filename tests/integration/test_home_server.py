"""One Prefect server per CHURN_HOME, used by every entry point, run as a user runs them.

Regressions: ``make demo`` reused whatever answered on port 4200, even another home's server;
flows run by hand started Prefect's ephemeral server, and two at once both died ("Timed out while
attempting to connect to ephemeral Prefect API server"); ``make stop`` killed the PID read from a
file without checking that it still was the server."""

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
import pytest

from core.settings import get_settings
from ops.server import ServerRecord, _write_record, stop_server
from simulator import SimConfig, simulate

PROJECT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, port: int) -> dict[str, str]:
    """A user's shell: no PREFECT_API_URL, no tool homes set, this home and port."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "PREFECT_"))}
    return {**base, "PYTHONPATH": str(PROJECT), "CHURN_HOME": str(home), "PREFECT_PORT": str(port)}


def _start(args: list[str], home: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env=_env(home, port),
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=400)
    return proc.returncode, err


def _home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    simulate(SimConfig(customers=30, months=2, seed=3), home / "sources")
    return home


def _record(home: Path) -> dict[str, object]:
    return dict(json.loads((home / "prefect" / "server.json").read_text()))


def _flow_runs(api_url: str) -> list[str]:
    """Names of the flows whose runs the server at ``api_url`` holds."""
    found = httpx.post(f"{api_url}/flow_runs/filter", json={}, timeout=30).json()
    flows = {f["id"]: f["name"] for f in httpx.post(f"{api_url}/flows/filter", json={}).json()}
    return sorted(flows[run["flow_id"]] for run in found if run["state_type"] == "COMPLETED")


def _stop(home: Path, port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.server", "stop"],
        env=_env(home, port),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.system
def test_two_homes_side_by_side_each_use_their_own_server(tmp_path: Path) -> None:
    first, second = _home(tmp_path, "first"), _home(tmp_path, "second")
    port, other_port = _free_port(), _free_port()
    try:
        code, err = _finish(_start(["flows.ingest"], first, port))
        assert code == 0, err
        record = _record(first)
        assert record["port"] == port and record["home"] == str(first)
        # the second home asked for the first one's port: named, never adopted
        code, err = _finish(_start(["flows.ingest"], second, port))
        assert code == 1
        assert f"port {port} is taken by another process" in err and "PREFECT_PORT=" in err
        assert len(err.strip().splitlines()) == 2, err  # the error and the --verbose hint
        assert not (second / "warehouse.db").exists()  # nothing ran
        code, err = _finish(_start(["flows.ingest"], second, other_port))
        assert code == 0, err
        assert _record(second)["port"] == other_port
        assert _flow_runs(f"http://127.0.0.1:{port}/api") == ["ingest"]
        assert _flow_runs(f"http://127.0.0.1:{other_port}/api") == ["ingest"]
        # this home's server again, whatever port the next command asks for
        code, err = _finish(_start(["flows.ingest"], first, other_port))
        assert code == 0, err
        assert _flow_runs(f"http://127.0.0.1:{port}/api") == ["ingest", "ingest"]
    finally:
        _stop(first, port)
        _stop(second, other_port)
    for home in (first, second):
        assert not (home / "prefect" / "server.json").exists()


@pytest.mark.system
def test_two_flows_run_by_hand_at_once_share_their_homes_server(tmp_path: Path) -> None:
    home, port = _home(tmp_path, "home"), _free_port()
    try:
        runs = [_start(["flows.ingest"], home, port) for _ in range(2)]
        results = [_finish(run) for run in runs]
        assert [code for code, _ in results] == [0, 0], results
        assert not any("temporary server" in err for _, err in results), results
        record = _record(home)
        assert record["port"] == port
        assert _flow_runs(f"http://127.0.0.1:{port}/api") == ["ingest", "ingest"]
        # one server for the home: none started by the second process, no ephemeral ones
        servers = [
            p
            for p in psutil.process_iter(["cmdline", "environ"])
            if "server" in (p.info["cmdline"] or [])
            and (p.info["environ"] or {}).get("PREFECT_HOME") == str(home / "prefect")
        ]
        assert [p.pid for p in servers] == [record["pid"]]
    finally:
        _stop(home, port)


def test_stop_leaves_a_process_that_reused_the_servers_pid_alone(churn_home: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (churn_home / "prefect").mkdir(parents=True)
        home = str(get_settings().home.resolve())
        started = psutil.Process(other.pid).create_time()
        url = "http://127.0.0.1:1/api"
        # the PID now belongs to another process (another start time) ...
        _write_record(ServerRecord(other.pid, 1, url, started - 60, home))
        assert "nothing was signalled" in (stop_server() or "")
        # ... or to a process started at that time that is no Prefect server
        _write_record(ServerRecord(other.pid, 1, url, started, home))
        assert "nothing was signalled" in (stop_server() or "")
        time.sleep(0.5)
        assert other.poll() is None
        assert not (churn_home / "prefect" / "server.json").exists()
    finally:
        other.kill()
        other.wait()
