"""Rollout: the served models follow their ``champion`` alias, on one public port.

``python -m ops.rollout --port 3000`` (started by ``make up``) runs the proxy (``ops.proxy``) on
the port, then every ``rollout_poll_s`` seconds reads the champion alias of every registered
``churn-*`` model. When an alias points somewhere else than what is served (a promotion or a
rollback, by any process), it builds or reuses that version's bento, starts ``bentoml serve`` on
a free port, waits for ``/readyz``, moves the model's traffic to it, lets the old server finish
what it has for ``rollout_drain_s`` seconds and stops it gracefully. A version that fails to
start is logged and left alone until its alias moves again; the old one keeps serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import psutil

from core.cli import FAIL_FAST_ENV, run_cli
from core.names import CHAMPION, DEFAULT_MODEL_NAME
from core.settings import get_settings
from ops import proxy

log = logging.getLogger("ops.rollout")
READY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Switch:
    """Serve ``new`` for ``model_name`` instead of ``old`` (None: nothing served yet)."""

    model_name: str
    old: str | None
    new: str


@dataclass
class Served:
    """One running ``bentoml serve``: which version, on which internal port."""

    model_name: str
    version: str
    port: int
    process: subprocess.Popen[bytes]


def plan_switches(
    served: Mapping[str, str], champions: Mapping[str, str], failed: Mapping[str, str]
) -> list[Switch]:
    """The switches that make ``served`` (model → version) follow ``champions``; a version that
    already ``failed`` to start is not tried again, and a model without a champion any more
    keeps what it serves."""
    return [
        Switch(name, served.get(name), version)
        for name, version in sorted(champions.items())
        if served.get(name) != version and failed.get(name) != version
    ]


def read_champions() -> dict[str, str]:
    """Every registered ``churn-*`` model with a champion: name → champion version."""
    from tasks.deploy.model_import import registry_client

    client = registry_client()
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        page = client.search_registered_models(
            filter_string="name LIKE 'churn-%'", max_results=100, page_token=token
        )
        found |= {m.name: str(m.aliases[CHAMPION]) for m in page if CHAMPION in m.aliases}
        token = page.token
        if not token:
            return found


class Follower:
    """Keeps one server per model on its champion, behind the proxy on ``port``."""

    def __init__(self, *, port: int, drain_s: float) -> None:
        self.port = port
        self.drain_s = drain_s
        self.served: dict[str, Served] = {}
        self.failed: dict[str, str] = {}
        self.routed: list[str] = []

    def start_proxy(self, models: list[str]) -> subprocess.Popen[bytes]:
        """Start the proxy on the public port with a route for each of ``models``."""
        if _listening(self.port):
            raise RuntimeError(
                f"port {self.port} is taken by another process; choose another: PORT=... "
                "(make variable) or --port"
            )
        config = proxy.write_config(models, port=self.port)
        self.routed = sorted(models)
        log_path = proxy.proxy_dir() / "proxy.log"
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                proxy.proxy_command(config), env=proxy.proxy_env(), stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while not _listening(self.port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"the proxy could not listen on 127.0.0.1:{self.port}; see {log_path}"
                )
            time.sleep(0.1)
        return process

    def step(self, champions: Mapping[str, str]) -> None:
        """Carry out every switch that ``champions`` asks for."""
        # a version that failed is tried again once its alias has pointed elsewhere
        self.failed = {m: v for m, v in self.failed.items() if champions.get(m) == v}
        served = {m: s.version for m, s in self.served.items()}
        for switch in plan_switches(served, champions, self.failed):
            self.switch(switch)

    def switch(self, switch: Switch) -> None:
        """Start ``switch.new``, move the traffic to it, drain and stop the old server."""
        from bentoml.exceptions import BentoMLException
        from mlflow.exceptions import MlflowException

        from tasks.deploy import build_bento
        from tasks.deploy.model_import import DeployError

        name, started = switch.model_name, time.monotonic()
        before = f"v{switch.old}" if switch.old else "nothing served"
        try:
            tag = build_bento(switch.new, model_name=name).tag
            built = time.monotonic()
            new = self._start(name, switch.new, tag)
        except (MlflowException, BentoMLException) as exc:  # the next poll tries again
            log.warning("%s: v%s not built yet (%s); %s still served", name, switch.new, exc,
                        before)  # fmt: skip
            return
        except (DeployError, RuntimeError, ValueError) as exc:
            self.failed[name] = switch.new
            log.error("%s: v%s not served (%s); %s still served", name, switch.new, exc,
                      before)  # fmt: skip
            return
        ready = time.monotonic()
        if name not in self.routed:
            self.routed = sorted([*self.routed, name])
            proxy.reload_proxy(self.routed, port=self.port)
        proxy.point_upstream(name, new.port)
        old = self.served.get(name)
        self.served[name] = new
        _record(new, self.port)
        log.info(
            "%s: %s → v%s, traffic moved %.1f s after the move was seen "
            "(bento %.1f s, ready %.1f s)",
            name, before, switch.new, ready - started, built - started, ready - built,
        )  # fmt: skip
        if old is not None:
            time.sleep(self.drain_s)
            code = _stop(old.process)
            log.info("%s: v%s stopped (exit %s) after %.1f s of drain", name, old.version, code,
                     self.drain_s)  # fmt: skip

    def _start(self, name: str, version: str, tag: str) -> Served:
        from tasks.deploy import serve_command, serve_env

        port = _free_port()
        log_path = proxy.proxy_dir() / f"bento-{name}-v{version}.log"
        with log_path.open("ab") as out:
            cmd = serve_command(tag, port=port)
            process = subprocess.Popen(cmd, env=_server_env(serve_env()), stdout=out,
                                       stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError(
                    f"bentoml serve {tag} did not become ready; see {log_path}"
                )  # fmt: skip
            time.sleep(0.3)
        return Served(name, version, port, process)

    def stop_all(self) -> None:
        """Stop every server and drop its record."""
        from ops.platform import run_dir

        for served in self.served.values():
            _stop(served.process)
            (run_dir() / f"bento-{served.model_name}.json").unlink(missing_ok=True)


def _record(served: Served, public_port: int) -> None:
    """List the server in ``$CHURN_HOME/run`` (``make status``; ``make down`` stops the
    follower's process group, which holds it)."""
    from ops.platform import Service, record_service

    path = "" if served.model_name == DEFAULT_MODEL_NAME else f"/{served.model_name}"
    url = f"http://127.0.0.1:{public_port}{path} → v{served.version} (:{served.port})"
    pid = served.process.pid
    started = psutil.Process(pid).create_time()
    record_service(
        Service(f"bento-{served.model_name}", pid, os.getpgid(pid), started, url, signal.SIGTERM)
    )


def _server_env(env: dict[str, str]) -> dict[str, str]:
    """A server is no command line: without the fail-fast settings ``run_cli`` gave this
    process (as ``make serve`` starts its server)."""
    return {k: v for k, v in env.items() if FAIL_FAST_ENV.get(k) != v}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    """SIGTERM (BentoML finishes what it has), SIGKILL after ``timeout_s``; the exit code."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def follow(*, port: int, poll_s: float, drain_s: float) -> None:
    """Run the proxy and follow the champion aliases until SIGTERM or SIGINT."""
    from mlflow.exceptions import MlflowException

    from core.homes import point_tool_homes

    point_tool_homes()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness probe
    for handler in logging.getLogger().handlers:  # a long-running log: each line has its time
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    follower = Follower(port=port, drain_s=drain_s)
    champions = read_champions()
    proxy_process = follower.start_proxy(list(champions))
    log.info("proxy on http://127.0.0.1:%d; champions %s; reading the registry every %.1f s",
             port, champions or "none yet", poll_s)  # fmt: skip
    try:
        while True:
            follower.step(champions)
            if proxy_process.poll() is not None:
                raise RuntimeError(
                    f"the proxy exited ({proxy_process.returncode}); see "
                    f"{proxy.proxy_dir() / 'proxy.log'}"
                )
            time.sleep(poll_s)
            try:
                champions = read_champions()
            except (MlflowException, OSError) as exc:  # the store is busy: ask again next time
                log.warning("could not read the champion aliases: %s", exc)
    finally:
        follower.stop_all()
        _stop(proxy_process, timeout_s=10)


def _parser() -> argparse.ArgumentParser:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m ops.rollout",
        description="Serve every churn-* model's champion on one port and roll each new "
        "champion (promotion or rollback) out to it without dropping requests.",
    )
    parser.add_argument("--port", type=int, default=3000, help="public port (default 3000)")
    parser.add_argument(
        "--poll-s", type=float, default=settings.rollout_poll_s, help="registry read interval"
    )
    parser.add_argument(
        "--drain-s", type=float, default=settings.rollout_drain_s,
        help="seconds the old server keeps running after traffic moved",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        follow(port=args.port, poll_s=args.poll_s, drain_s=args.drain_s)
        return 0

    return run_cli(body, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
