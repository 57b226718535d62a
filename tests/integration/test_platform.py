"""`make down`'s logic on real processes: it stops exactly the recorded process groups (and their
descendants in other sessions), escalates to SIGKILL, and never signals a reused PID."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ops.platform import Service, down, record_service, recorded, run_dir

# ignores SIGTERM (like a busy worker), and starts a child in a session of its own
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True)
print(child.pid, flush=True)
time.sleep(120)
"""


def _start(name: str, code: str, stop: int) -> tuple[Service, subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    service = Service(name, proc.pid, proc.pid, psutil.Process(proc.pid).create_time(), "-", stop)
    record_service(service)
    return service, proc


def test_down_stops_recorded_groups_and_their_descendants(churn_home: Path) -> None:
    run_dir().mkdir(parents=True)
    _, stubborn = _start("stubborn", STUBBORN, signal.SIGTERM)
    assert stubborn.stdout is not None
    grandchild = int(stubborn.stdout.readline())
    _, polite = _start("polite", "import time; time.sleep(120)", signal.SIGINT)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started = time.monotonic()
        assert sorted(down(timeout_s=1)) == ["polite", "stubborn"]
        assert time.monotonic() - started < 10
        stubborn.wait(timeout=5)
        polite.wait(timeout=5)
        assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie"
        assert bystander.poll() is None  # not recorded: left alone
        assert recorded() == []
    finally:
        bystander.kill()
        bystander.wait()


def test_down_never_signals_a_reused_pid(churn_home: Path) -> None:
    run_dir().mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        # a record whose PID now belongs to another process (different start time)
        record_service(Service("stale", other.pid, other.pid, 1.0, "-", signal.SIGTERM))
        assert down(timeout_s=1) == []
        assert other.poll() is None
        assert recorded() == []
    finally:
        other.kill()
        other.wait()


def test_up_refuses_a_server_that_is_not_this_homes(churn_home: Path, prefect_server: str) -> None:
    """A server of anyone else on the port (here the test session's) is named, never adopted;
    ``make up`` using this home's own running server is tested in test_home_server.py."""
    from ops.platform import _home_prefect
    from ops.server import PortTakenError

    port = int(prefect_server.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(PortTakenError, match=rf"port {port} is taken .* PREFECT_PORT={port + 1}"):
        _home_prefect(port)
    assert not (churn_home / "prefect" / "server.json").exists()
