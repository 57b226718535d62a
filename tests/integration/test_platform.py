"""`make down`'s logic on real processes: it stops exactly the recorded process groups (and their
descendants in other sessions), escalates to SIGKILL, and never signals a reused PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from ops.platform import Service, _record, down, recorded, run_dir

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
    _record(service)
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
        _record(Service("stale", other.pid, other.pid, 1.0, "-", signal.SIGTERM))
        assert down(timeout_s=1) == []
        assert other.poll() is None
        assert recorded() == []
    finally:
        other.kill()
        other.wait()


def _listener(port: int) -> int:
    return next(
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
    )


def test_up_adopts_this_homes_running_server_and_refuses_a_strangers(
    churn_home: Path, prefect_server: str
) -> None:
    """`make demo` leaves its Prefect server running; `make up` then uses (and records) it
    instead of failing on the taken port. Another server on the port is named, not adopted."""
    import pytest

    from core.settings import get_settings
    from ops.platform import _adopt_server, _start_prefect

    port = int(prefect_server.rsplit(":", 1)[1].split("/")[0])
    pid_file = get_settings().prefect_home / "server.pid"
    pid_file.parent.mkdir(parents=True)
    assert _adopt_server(port) is None  # no PID file: not ours
    with pytest.raises(RuntimeError, match=rf"another Prefect server .* port {port}.*PREFECT_PORT"):
        _start_prefect(port)
    pid_file.write_text(str(_listener(port)))  # where the PID file of `ops.server start` is
    adopted = _adopt_server(port)
    assert adopted is not None
    assert (adopted.name, adopted.pid, adopted.url) == (
        "prefect-server",
        _listener(port),
        f"http://127.0.0.1:{port}",
    )
    pid_file.write_text(str(os.getpid()))  # a live PID of ours that serves no such port
    assert _adopt_server(port) is None
