"""One real serving stack for every serving test: a small simulated warehouse with its online store,
two champions trained by the real ``train`` flow (each promotion builds its bento), a rollback to
the first, its bento rebuilt, and that bento served by ``bentoml serve`` from the bento store in a
directory outside the repository."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.db import make_engine
from core.names import TAG_TRAINED_THROUGH
from core.settings import get_settings
from tests.model.pipeline import build_warehouse

REPO = Path(__file__).resolve().parents[2]
TRAINED = TAG_TRAINED_THROUGH
# run with (repository, bento tag): load the bento's service with the repository off the import
# path and print the module -> file of every module of ours it imported
IMPORT_FROM_BENTO = """
import json, sys
from pathlib import Path
from typing import Any
repo = Path(sys.argv[1]).resolve()
sys.path = [p for p in sys.path if p and Path(p).resolve() != repo]  # the editable install too
import bentoml
svc = bentoml.load(sys.argv[2])
ours = ("bentos", "core", "models", "tasks", "flows", "simulator", "monitoring")
print(json.dumps({
    name: getattr(module, "__file__", None) or ""
    for name, module in sys.modules.items()
    if name.split(".")[0] in ours
}))
"""


def modules_loaded_by_bento(tag: str, env: dict[str, str], workdir: Path) -> dict[str, str]:
    """Load bento ``tag`` with ``bentoml.load`` in a fresh process in ``workdir`` (outside the
    repository, without it on sys.path); our modules it imported, with their files."""
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_FROM_BENTO, str(REPO), tag],
        cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    modules: dict[str, str] = json.loads(out.stdout.strip().splitlines()[-1])
    return modules


@dataclass(frozen=True)
class Stack:
    """Where the served stack lives, and what the flows built."""

    home: Path
    database_url: str
    tracking_uri: str
    env: dict[str, str]
    first: dict[str, object]  # summary of the first train flow run (v1)
    second: dict[str, object]  # summary of the second (v2)
    tag: str  # the bento rebuilt after rolling back to v1, served below


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def backdate_training(tracking_uri: str, name: str, version: str, *, days: int) -> None:
    """Move a version's ``data.trained_through`` ``days`` earlier (as if trained on older data)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    through = datetime.fromisoformat(client.get_model_version(name, version).tags[TRAINED])
    client.set_model_version_tag(
        name, version, TRAINED, (through - timedelta(days=days)).isoformat()
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(tag: str, env: dict[str, str], workdir: Path) -> Server:
    """``bentoml serve TAG`` from ``workdir`` (outside the repository); waits for /readyz."""
    from tasks.deploy import serve_command

    port = free_port()
    log = workdir / f"serve-{port}.log"
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # only the bento's code
    proc = subprocess.Popen(
        serve_command(tag, port=port), cwd=workdir, env=env, stdout=log.open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"bentoml serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return Server(url, proc, log)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(Server(url, proc, log))
            raise RuntimeError(f"bentoml serve not ready after 180 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def stop_server(server: Server, timeout: float = 60) -> int:
    """SIGTERM (graceful shutdown); the exit code."""
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        return server.process.wait()


BODY_TIMEOUT_S = 3.0  # the session server's limit for a request body (test_slow_client)


@pytest.fixture(scope="session")
def serving_stack(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> Stack:
    from flows.rollback import rollback
    from flows.train import train
    from tasks.deploy import build_bento, champion_version, serve_env
    from tasks.features import data_watermark, materialize

    # hidden, like the default CHURN_HOME (.churn): bentoml build refuses hidden build contexts
    home = tmp_path_factory.mktemp("serving-home") / ".churn"
    url = build_warehouse(home, customers=600, months=8, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(home))
        mp.setenv("CHURN_DATABASE_URL", url)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        engine = make_engine(url)
        materialize(data_watermark(engine=engine), engine=engine)  # type: ignore[arg-type]
        engine.dispose()
        # the flows accept min_auc in (0.5, 1]: the lowest bar, any informative model passes
        params: dict[str, Any] = {"min_auc": 0.501, "tolerance": 0.05, "max_cutoffs": 5}
        first = train(**params)
        # same data and seed: the retrain ties v1; had v1 been trained a month earlier, the
        # retrain is on newer data and replaces it (the gate's "newer data" rule)
        backdate_training(get_settings().mlflow_tracking_uri, "churn-model", "1", days=31)
        second = train(**params)
        assert second["decision"] == "promoted", second["reason"]
        rollback(reason="serving test")
        tag = build_bento(champion_version()).tag
        stack = Stack(
            home, url, get_settings().mlflow_tracking_uri, serve_env(), first, second, tag
        )
    get_settings.cache_clear()
    return stack


@pytest.fixture(scope="session")
def outside_dir() -> Iterator[Path]:
    """A working directory outside the repository for the servers."""
    with tempfile.TemporaryDirectory(prefix="churn-serve-") as tmp:
        path = Path(tmp).resolve()
        assert REPO not in path.parents
        yield path


@pytest.fixture(scope="session")
def server(serving_stack: Stack, outside_dir: Path) -> Iterator[Server]:
    """The session's HTTP server: the rolled-back champion's bento."""
    env = {**serving_stack.env, "CHURN_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    running = start_server(serving_stack.tag, env, outside_dir)
    yield running
    stop_server(running)
