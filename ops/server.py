"""The Prefect server of a home: one per ``CHURN_HOME``, on its own port, recorded with the home.

Every entry point (``make`` targets, the flows' command lines, a flow run by hand) reaches
Prefect through ``ensure_server``: ``PREFECT_API_URL`` when it is set, else this home's server —
the one recorded in ``$CHURN_HOME/prefect/server.json`` (PID, process start time, port, home)
when that process still runs and answers, else a new one on ``PREFECT_PORT``
(``CHURN_PREFECT_PORT``, default 4200). A server that answers on the port but is not this home's
is never adopted: starting fails with a line naming the port. Two processes of one home starting
at once take turns on a lock file, so the second uses the server the first started. Not Prefect's
per-process ephemeral server: 15–35 s per process, and two at once time out.

State lives in ``$CHURN_HOME/prefect`` (PREFECT_HOME: SQLite database, results, log, record);
``PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...`` moves the database to PostgreSQL.
CLI: ``python -m ops.server start|stop|status|url``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from core.cli import run_cli
from core.homes import tool_homes
from core.locks import file_lock
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class PortTakenError(RuntimeError):
    """The port asked for is held by a process that is not this home's Prefect server."""


@dataclass(frozen=True)
class ServerRecord:
    """The Prefect server a home started: enough to find it again and to know it is still it."""

    pid: int
    port: int
    api_url: str
    started: float  # psutil create_time: a reused PID is never taken for the server
    home: str  # the CHURN_HOME that started it: a copied home does not adopt it


def prefect_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment of every project process: each tool's home under CHURN_HOME, heartbeats on."""
    settings = settings or get_settings()
    return {
        **tool_homes(),
        "CHURN_HOME": str(settings.home.resolve()),
        "CHURN_PROJECT_DIR": str(PROJECT_DIR),
        "PYTHONPATH": str(PROJECT_DIR),
        # our modules log through standard logging; show their lines in the UI too
        "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,flows,ops,models,monitoring,simulator",
    }


def server_healthy(api_url: str) -> bool:
    """True when a Prefect API answers its health check at ``api_url``."""
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _record_path() -> Path:
    return get_settings().prefect_home / "server.json"


def read_record() -> ServerRecord | None:
    """The server recorded in this home, whether or not it still runs."""
    path = _record_path()
    try:
        return ServerRecord(**json.loads(path.read_text()))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (ValueError, TypeError):
        log.warning("ignoring an unreadable server record %s", path)
        return None


def _write_record(record: ServerRecord) -> None:
    path = _record_path()
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(path)  # readers see the old record or the whole new one


def stale_reason(record: ServerRecord) -> str | None:
    """Why ``record`` no longer names a running server of this home; None when it does."""
    if record.home != str(get_settings().home.resolve()):
        return f"it was written by CHURN_HOME={record.home}"
    try:
        proc = psutil.Process(record.pid)
        started, cmdline = proc.create_time(), proc.cmdline()
    except psutil.NoSuchProcess:
        return f"pid {record.pid} has exited"
    except psutil.AccessDenied:
        return f"pid {record.pid} is another user's process"
    if started != record.started or "server" not in cmdline:
        return f"pid {record.pid} is now another process ({' '.join(cmdline[:3])})"
    if not any("prefect" in part for part in cmdline):
        return f"pid {record.pid} is not a Prefect server"
    return None


def home_server() -> ServerRecord | None:
    """This home's server when its recorded process still runs; a stale record is removed."""
    record = read_record()
    if record is None:
        return None
    reason = stale_reason(record)
    if reason is not None:
        log.info("forgetting the recorded Prefect server (port %s): %s", record.port, reason)
        _record_path().unlink(missing_ok=True)
        return None
    return record


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _port_taken_error(port: int) -> PortTakenError:
    return PortTakenError(
        f"port {port} is taken by another process (not this CHURN_HOME's Prefect server); "
        f"choose another port: PREFECT_PORT={port + 1} (make variable or environment)"
    )


def start_server(port: int, timeout_s: float = 180) -> ServerRecord:
    """Start ``prefect server start`` detached on ``port`` and record it with the home.

    Not ``--background``: Prefect 3 gives that server pipes for stdout and stderr whose reader,
    the starting CLI, exits at once, so the server dies on its first write to stderr (seen twice
    within minutes of ``make up`` once a deployment ran). Here the server runs in a session of
    its own and logs to ``$PREFECT_HOME/server.log``. Callers hold the home's server lock.
    """
    home = get_settings().prefect_home
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    # the server's own services (automations' actions) call its API: never another server's
    env = {**os.environ, **prefect_env(), "PREFECT_API_URL": url}
    log_path = home / "server.log"
    with log_path.open("ab") as out:
        server = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while not server_healthy(url):
        if server.poll() is not None:
            if _port_taken(port):  # another process took the port meanwhile
                raise _port_taken_error(port)
            raise RuntimeError(
                f"the Prefect server exited while starting (code {server.returncode}); "
                f"see {log_path}"
            )
        if time.monotonic() > deadline:
            _terminate(server.pid)
            raise RuntimeError(f"the Prefect server gave no answer at {url} in {timeout_s:.0f} s")
        time.sleep(0.5)
    record = ServerRecord(
        pid=server.pid,
        port=port,
        api_url=url,
        started=psutil.Process(server.pid).create_time(),
        home=str(get_settings().home.resolve()),
    )
    _write_record(record)
    log.info("started Prefect server pid %s at %s (log %s)", server.pid, url, log_path)
    return record


def ensure_home_server(port: int | None = None, timeout_s: float = 180) -> ServerRecord:
    """This home's Prefect server: the recorded one when it runs, else one started on ``port``
    (default: the ``prefect_port`` setting). Safe when processes of one home call it at once."""
    from core.stores import check_home

    settings = get_settings()
    port = port or settings.prefect_port
    check_home(settings.home)
    lock = settings.prefect_home / "server.lock"
    what = "starting this CHURN_HOME's Prefect server"
    with file_lock(lock, timeout_s=timeout_s + 60, what=what):
        running = home_server()
        if running is not None:
            if not server_healthy(running.api_url):
                raise RuntimeError(
                    f"this CHURN_HOME's Prefect server (pid {running.pid}) does not answer at "
                    f"{running.api_url}; see {settings.prefect_home / 'server.log'}, then "
                    "`make stop` and retry"
                )
            if running.port != port:
                log.info(
                    "this CHURN_HOME's Prefect server runs on port %s, not %s: using it "
                    "(`make stop` first to move it)",
                    running.port,
                    port,
                )
            return running
        if _port_taken(port):
            raise _port_taken_error(port)
        return start_server(port, timeout_s)


def install_crash_automation(api_url: str) -> None:
    """Create (or bring to ``CHURN_CRASH_AFTER_S``) the crash automation on this home's server.

    The URL goes into the environment before prefect is imported here: Prefect reads its settings
    once, at import, and a process that imported it without PREFECT_API_URL would start an
    ephemeral server for any call made outside ``temporary_settings``."""
    os.environ["PREFECT_API_URL"] = api_url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ops.automations import ensure_crash_automation

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        ensure_crash_automation()


def ensure_server(port: int | None = None, timeout_s: float = 180) -> str:
    """The Prefect API URL to use: ``PREFECT_API_URL`` if set (it must answer), else this
    home's own server (``ensure_home_server``)."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        if not server_healthy(configured):
            raise RuntimeError(
                f"PREFECT_API_URL={configured} does not answer; start that server or unset "
                "PREFECT_API_URL to use this CHURN_HOME's own"
            )
        return configured
    return ensure_home_server(port, timeout_s).api_url


@contextlib.contextmanager
def using_server(port: int | None = None) -> Iterator[str]:
    """Run the block against ``ensure_server``'s API: in this process (Prefect's settings, read
    when prefect was imported) and in the processes it starts (the environment)."""
    own = not os.environ.get("PREFECT_API_URL")
    url = ensure_server(port)
    if own:  # this home's server marks the runs whose process died Crashed
        install_crash_automation(url)
    os.environ["PREFECT_API_URL"] = url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url


def _terminate(pid: int, timeout_s: float = 8) -> None:
    """SIGTERM the server's session (it leads its own), SIGKILL what is left after the wait."""
    try:
        proc = psutil.Process(pid)
        members = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    _, left = psutil.wait_procs(members, timeout=timeout_s)
    for member in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(left, timeout=2)


def stop_server(timeout_s: float = 8) -> str | None:
    """Stop this home's recorded server, after checking its PID is still that server; None when
    it was stopped, else why nothing was signalled."""
    record = read_record()
    if record is None:
        return "no Prefect server of this CHURN_HOME is recorded"
    reason = stale_reason(record)
    if reason is None:
        _terminate(record.pid, timeout_s)
        log.info("stopped Prefect server pid %s (port %s)", record.pid, record.port)
    _record_path().unlink(missing_ok=True)
    if reason is not None:
        return f"the recorded Prefect server is not running ({reason}); nothing was signalled"
    return None


def _run(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per API call is noise here
    if args.action == "start":
        url = ensure_home_server(args.port).api_url
        install_crash_automation(url)
        print(f"Prefect API {url} — UI at {url.removesuffix('/api')}")
    elif args.action == "url":
        print(ensure_server(args.port))
    elif args.action == "stop":
        why = stop_server()
        print(why or "stopped")
    else:
        record = read_record()
        reason = stale_reason(record) if record else "none recorded"
        if record is None or reason is not None:
            print(f"down ({reason})")
        else:
            state = "up" if server_healthy(record.api_url) else "not answering"
            print(f"{record.api_url}: {state} (pid {record.pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.server", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "action",
        choices=["start", "stop", "status", "url"],
        help="url: print the Prefect API URL every entry point uses (starting the server)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to start on (default: PREFECT_PORT, 4200)"
    )
    return run_cli(_run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
