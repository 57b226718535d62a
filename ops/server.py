"""The local Prefect server: ``prefect server start`` detached, its PID where Prefect keeps it.

State lives in ``$CHURN_HOME/prefect`` (PREFECT_HOME: SQLite database, results, PID file);
``PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...`` moves the database to PostgreSQL.
One long-lived server, not Prefect's per-process ephemeral one (15–35 s per process, and it locks
its SQLite file under load). CLI: ``python -m ops.server start|stop|status``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from core.cli import run_cli
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)
DEFAULT_PORT = 4200
PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def prefect_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment of every project process: each tool's home and store under CHURN_HOME."""
    settings = settings or get_settings()
    home = settings.prefect_home
    return {
        "CHURN_HOME": str(settings.home.resolve()),
        "CHURN_PROJECT_DIR": str(PROJECT_DIR),
        "PYTHONPATH": str(PROJECT_DIR),
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # our modules log through standard logging; show their lines in the UI too
        "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,flows,ops,models,monitoring,simulator",
        "BENTOML_HOME": str(settings.bentoml_home),
        # tools that otherwise write to ~/.cache or ~/.config
        "MPLCONFIGDIR": str(settings.home.resolve() / "matplotlib"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def server_healthy(api_url: str) -> bool:
    """True when a Prefect API answers its health check at ``api_url``."""
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _pid_file() -> Path:
    # where `prefect server start --background` keeps its PID and `prefect server stop` reads it
    return get_settings().prefect_home / "server.pid"


def running_server_pid() -> int | None:
    """PID of the background server of this CHURN_HOME, dropping a stale PID file."""
    path = _pid_file()
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    if pid and psutil.pid_exists(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def start_server(port: int = DEFAULT_PORT, timeout_s: float = 180) -> tuple[str, int, int]:
    """Start ``prefect server start`` detached; return (API URL, server PID, process group).

    Not ``--background``: Prefect 3 gives that server pipes for stdout and stderr whose reader,
    the starting CLI, exits at once, so the server dies on its first write to stderr (seen twice
    within minutes of ``make up`` once a deployment ran). Here the server runs in a session of
    its own, logs to ``$PREFECT_HOME/server.log``, and its PID goes where
    ``prefect server stop`` looks for it (``$PREFECT_HOME/server.pid``).
    """
    home = get_settings().prefect_home
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    running_server_pid()  # clears a stale PID file
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, **prefect_env()}
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
    _pid_file().write_text(str(server.pid))
    deadline = time.monotonic() + timeout_s
    while not server_healthy(url):
        if server.poll() is not None:
            _pid_file().unlink(missing_ok=True)
            raise RuntimeError(
                f"the Prefect server exited while starting (code {server.returncode}); "
                f"see {log_path}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Prefect server gave no answer at {url} in {timeout_s:.0f} s")
        time.sleep(0.5)
    log.info("Prefect server pid %s at %s (state in %s, log %s)", server.pid, url, home, log_path)
    return url, server.pid, server.pid


def ensure_server(port: int = DEFAULT_PORT, timeout_s: float = 180) -> str:
    """A healthy Prefect API URL: PREFECT_API_URL if set, the local one, or a newly started one."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        if not server_healthy(configured):
            raise RuntimeError(
                f"PREFECT_API_URL={configured} does not answer; start that server or unset it"
            )
        return configured
    url = f"http://127.0.0.1:{port}/api"
    if server_healthy(url):
        return url
    return start_server(port, timeout_s)[0]


def stop_server(timeout_s: float = 8) -> bool:
    """Stop the background server of this CHURN_HOME (what ``prefect server stop`` does, plus
    waiting for it to exit); False when none was running."""
    pid = running_server_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    try:
        psutil.Process(pid).wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass
    _pid_file().unlink(missing_ok=True)
    return True


def _run(args: argparse.Namespace) -> int:
    if args.action == "start":
        url = ensure_server(args.port)
        os.environ["PREFECT_API_URL"] = url  # before prefect is imported below
        from ops.automations import ensure_crash_automation

        ensure_crash_automation()
        print(f"Prefect API {url} — UI at {url.removesuffix('/api')}")
    elif args.action == "stop":
        print("stopped" if stop_server() else "no server started by this project was running")
    else:
        url = f"http://127.0.0.1:{args.port}/api"
        print(f"{url}: {'up' if server_healthy(url) else 'down'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.server", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    return run_cli(_run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
