"""Start, reuse or stop the local Prefect server that the demo and deployments report to.

One long-lived `prefect server start` (not Prefect's per-process ephemeral server, which adds
15–35 s to every process and locks its SQLite file under load). State lives in CHURN_HOME/prefect.
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

from core.cli import run_cli
from core.settings import get_settings

log = logging.getLogger(__name__)
DEFAULT_PORT = 4200


def server_healthy(api_url: str) -> bool:
    """True when a Prefect API answers its health check at ``api_url``."""
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(port: int = DEFAULT_PORT, timeout_s: float = 120) -> str:
    """Return a healthy Prefect API URL, starting a detached local server if none answers."""
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
    home = get_settings().prefect_home
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect_bin = str(Path(sys.executable).parent / "prefect")
    cmd = [prefect_bin, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (home / "server.log").open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    (home / "server.pid").write_text(str(proc.pid))
    log.info("starting Prefect server (pid %s), log %s", proc.pid, home / "server.log")
    deadline = time.monotonic() + timeout_s
    while not server_healthy(url):
        if proc.poll() is not None:
            code = proc.returncode
            raise RuntimeError(f"Prefect server exited with {code}; see {home}/server.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Prefect server gave no answer in {timeout_s:.0f} s; see log")
        time.sleep(0.5)
    return url


def stop_server() -> bool:
    """Stop the server started by ``ensure_server``; False when none was running."""
    pidfile = get_settings().prefect_home / "server.pid"
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text())
    pidfile.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def _run(args: argparse.Namespace) -> int:
    if args.action == "start":
        url = ensure_server(args.port)
        os.environ["PREFECT_API_URL"] = url  # before prefect is imported below
        from flows.automations import ensure_crash_automation

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
        prog="python -m flows.server", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    return run_cli(_run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
