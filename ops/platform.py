"""The local platform in one command: ``make up`` / ``make down`` / ``make status``.

``up`` starts in the background a Prefect server, a process worker (pool ``churn-local``), the
MLflow UI, the Evidently UI and the rollout follower (``ops.rollout``): the proxy on the API's
port and, for every model with a champion, its BentoML service (bento built or reused), switched
to each new champion on its own; then prints their URLs. Each started process is recorded in
``$CHURN_HOME/run/<name>.json`` (PID, process group, start time); ``down`` signals exactly those
process groups (SIGINT for the worker, which ignores SIGTERM for 20+ s; SIGTERM otherwise), waits,
and kills what is left, within ``--timeout`` seconds. Every process gets PREFECT_HOME and every
store from CHURN_HOME.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from core.names import DEFAULT_MODEL_NAME
from core.settings import get_settings
from ops.server import (
    BIN,
    PROJECT_DIR,
    ensure_home_server,
    home_server,
    install_crash_automation,
    prefect_env,
)

WORK_POOL = "churn-local"
console = Console()


@dataclass(frozen=True)
class Service:
    """One process `up` started: how to find it again and how to stop it."""

    name: str
    pid: int
    pgid: int
    started: float  # psutil create_time: guards against a reused PID
    url: str
    stop_signal: int


def run_dir() -> Path:
    return get_settings().home.resolve() / "run"


def record_service(service: Service) -> None:
    """Write (or replace) the record of a started service."""
    (run_dir() / f"{service.name}.json").write_text(json.dumps(asdict(service)))


def recorded() -> list[Service]:
    """Services recorded by `up` in this CHURN_HOME."""
    folder = run_dir()
    return [Service(**json.loads(p.read_text())) for p in sorted(folder.glob("*.json"))]


def _alive(service: Service) -> bool:
    try:
        return bool(psutil.Process(service.pid).create_time() == service.started)
    except psutil.NoSuchProcess:
        return False


def _spawn(name: str, cmd: list[str], *, env: dict[str, str], url: str, stop: int) -> Service:
    log = (run_dir() / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        cmd, env=env, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    service = Service(name, proc.pid, proc.pid, psutil.Process(proc.pid).create_time(), url, stop)
    record_service(service)
    return service


def _wait_http(service: Service, probe: str, timeout_s: float, also: int | None = None) -> None:
    """Wait until ``probe`` answers below 500 (or with status ``also``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(service):
            raise RuntimeError(
                f"{service.name} exited while starting; see {run_dir() / service.name}.log"
            )
        try:
            status = httpx.get(probe, timeout=2).status_code
            if status < 500 or status == also:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{service.name} gave no answer at {probe} in {timeout_s:.0f} s")


def _home_prefect(port: int) -> Service:
    """This CHURN_HOME's Prefect server — the running one (``make demo`` leaves its server up for
    the UI) or a new one on ``port`` — as a service, so that ``down`` stops it with the rest. A
    server of another home or of anyone else on the port is never adopted (PortTakenError)."""
    with console.status("starting / reusing this CHURN_HOME's Prefect server"):
        server = ensure_home_server(port)
        install_crash_automation(server.api_url)
    url = server.api_url.removesuffix("/api")
    # it leads a session of its own: its process group is its PID
    return Service("prefect-server", server.pid, server.pid, server.started, url, signal.SIGTERM)


def up(
    *, prefect_port: int, mlflow_port: int, evidently_port: int, bento_port: int = 3000
) -> list[Service]:
    """Start every service not already running; return what runs now."""
    settings = get_settings()
    run_dir().mkdir(parents=True, exist_ok=True)
    running = {s.name: s for s in recorded() if _alive(s)}
    if "prefect-server" not in running:
        server = _home_prefect(prefect_port)
        record_service(server)
        running[server.name] = server
    env = {
        **os.environ,
        **prefect_env(),
        "PREFECT_API_URL": f"{running['prefect-server'].url}/api",
        # flow runs link the UIs where they run (the retrain report's MLflow links)
        "CHURN_MLFLOW_PORT": str(mlflow_port),
        "CHURN_EVIDENTLY_PORT": str(evidently_port),
    }
    if "worker" not in running:
        cmd = [str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL, "--type", "process"]
        running["worker"] = _spawn(
            "worker", cmd, env=env, url=f"pool {WORK_POOL}", stop=signal.SIGINT
        )
    if "mlflow-ui" not in running:
        settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "mlflow"), "ui", "--backend-store-uri", settings.mlflow_tracking_uri]
        cmd += ["--default-artifact-root", settings.mlflow_artifact_root.as_uri()]
        cmd += ["--host", "127.0.0.1", "--port", str(mlflow_port)]
        url = f"http://127.0.0.1:{mlflow_port}"
        # the UI only browses: no background job runner (it starts a dozen consumer processes)
        ui_env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        running["mlflow-ui"] = _spawn("mlflow-ui", cmd, env=ui_env, url=url, stop=signal.SIGTERM)
    if "evidently-ui" not in running:
        workspace = settings.home.resolve() / "evidently"
        workspace.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "evidently"), "ui", "--workspace", str(workspace)]
        cmd += ["--host", "127.0.0.1", "--port", str(evidently_port)]
        url = f"http://127.0.0.1:{evidently_port}"
        ui_env = {**env, "DO_NOT_TRACK": "1"}
        running["evidently-ui"] = _spawn(
            "evidently-ui", cmd, env=ui_env, url=url, stop=signal.SIGTERM
        )
    champions: dict[str, str] = {}
    if "rollout" not in running:
        from ops.rollout import read_champions
        from tasks.deploy import serve_env

        champions = read_champions()
        if not champions:
            console.print(
                "no champion yet: the API on port "
                f"{bento_port} serves the first one as soon as it is promoted (make demo)"
            )
        cmd = [sys.executable, "-m", "ops.rollout", "--port", str(bento_port)]
        url = f"http://127.0.0.1:{bento_port}"
        running["rollout"] = _spawn("rollout", cmd, env=serve_env(), url=url, stop=signal.SIGTERM)
    with console.status("waiting for the services to answer"):
        if "mlflow-ui" in running:
            _wait_http(running["mlflow-ui"], f"{running['mlflow-ui'].url}/health", 300)
        if "evidently-ui" in running:
            _wait_http(running["evidently-ui"], running["evidently-ui"].url, 300)
        if champions:  # the proxy answers 502 until the first champion's server is ready
            path = "" if DEFAULT_MODEL_NAME in champions else f"/{min(champions)}"
            _wait_http(running["rollout"], f"{running['rollout'].url}{path}/readyz", 600)
        elif "rollout" in running:  # nothing to serve yet: the proxy's 503 says so
            _wait_http(running["rollout"], running["rollout"].url, 120, also=503)
    return list(running.values())


def down(timeout_s: float = 5) -> list[str]:
    """Stop every recorded service (its process group and every descendant, e.g. flow runs a
    worker started in their own session); return the names stopped."""
    services = [s for s in recorded() if _alive(s)]
    members: dict[int, psutil.Process] = {}
    for service in services:
        own = _members(service)
        members |= {proc.pid: proc for proc in own}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pgid, service.stop_signal)
        for proc in own:  # descendants outside the group: flow-run processes
            if _pgid(proc) != service.pgid:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.send_signal(signal.SIGTERM)
    _, left = psutil.wait_procs(list(members.values()), timeout=timeout_s)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(left, timeout=2)
    for path in run_dir().glob("*.json"):
        path.unlink()
    home_server()  # drops the server's record once it has exited
    return [s.name for s in services]


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except ProcessLookupError:
        return None


def _members(service: Service) -> list[psutil.Process]:
    """The service's process group plus every descendant of its main process."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        if _pgid(proc) == service.pgid:
            found[proc.pid] = proc
    with contextlib.suppress(psutil.NoSuchProcess):
        main = psutil.Process(service.pid)
        for proc in [main, *main.children(recursive=True)]:
            found[proc.pid] = proc
    return list(found.values())


def _print(services: list[Service]) -> None:
    table = Table("service", "pid", "url")
    for s in services:
        table.add_row(s.name, str(s.pid), s.url)
    console.print(table)
    console.print(f"logs and PID records: {run_dir()}  ·  stop all: make down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.platform", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    settings = get_settings()  # PREFECT_PORT, MLFLOW_PORT, EVIDENTLY_PORT (or CHURN_...)
    parser.add_argument("--prefect-port", type=int, default=settings.prefect_port)
    parser.add_argument("--mlflow-port", type=int, default=settings.mlflow_port)
    parser.add_argument("--evidently-port", type=int, default=settings.evidently_port)
    parser.add_argument(
        "--bento-port", type=int, default=3000, help="public port of the served champions (proxy)"
    )
    parser.add_argument("--timeout", type=float, default=5, help="down: seconds before SIGKILL")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            _print(
                up(
                    prefect_port=args.prefect_port,
                    mlflow_port=args.mlflow_port,
                    evidently_port=args.evidently_port,
                    bento_port=args.bento_port,
                )
            )
        elif args.action == "down":
            stopped = down(args.timeout)
            console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        else:
            _print([s for s in recorded() if _alive(s)])
    except RuntimeError as exc:
        if args.verbose:
            raise
        console.print(f"[red]{args.action} failed:[/red] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
