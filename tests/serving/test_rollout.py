"""The served model follows its champion alias under load: a promotion and a rollback each switch
the version answering on the public port, and no request of 16 concurrent connections fails.

Real MLflow store, real bentos (the serving stack's v1 and v2, trained by the train flow), real
``bentoml serve`` processes, the platform's follower and proxy (``python -m ops.rollout``), and two
load-client processes (``bench.rollout_load``: no retry, 5 s timeout)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from sqlalchemy import select

from core.db import make_engine
from core.names import CHAMPION
from core.tables import online_features
from tests.serving.conftest import REPO, Stack, free_port
from tests.serving.rollout import follower_process, until_served

pytestmark = pytest.mark.system
NAME = "churn-model"


def _load(url: str, bodies: Path, out: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "bench.rollout_load", "--url", f"{url}/predict",
           "--bodies", str(bodies), "-c", "8", "-d", "240", "--timeout", "5"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=REPO, stdout=out.open("wb"))


def _result(load: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    load.send_signal(signal.SIGTERM)
    assert load.wait(timeout=60) == 0
    result: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
    return result


def test_rollout_follows_promotion_and_rollback_without_failed_requests(
    serving_stack: Stack, outside_dir: Path, tmp_path: Path
) -> None:
    first = str(serving_stack.first["model_version"])
    second = str(serving_stack.second["model_version"])
    client = MlflowClient(tracking_uri=serving_stack.tracking_uri)
    assert str(client.get_model_version_by_alias(NAME, CHAMPION).version) == first
    engine = make_engine(serving_stack.database_url)
    with engine.connect() as conn:
        ids = conn.execute(select(online_features.c.customer_id).limit(50)).scalars().all()
    engine.dispose()
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text("\n".join(json.dumps({"customer_ids": [i]}) for i in ids))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    loads: list[subprocess.Popen[bytes]] = []
    try:
        with follower_process(port, serving_stack.env, outside_dir, tmp_path / "rollout.log"):
            until_served(url, ids[0], first, 240)
            loads += [_load(url, bodies, tmp_path / f"load-{i}.json") for i in range(2)]
            time.sleep(3)
            promoted_at = time.time()
            client.set_registered_model_alias(NAME, CHAMPION, second)  # as the gate promotes
            until_served(url, ids[0], second, 120)
            time.sleep(3)
            rolled_back_at = time.time()
            client.set_registered_model_alias(NAME, CHAMPION, first)  # as a rollback does
            until_served(url, ids[0], first, 120)
            time.sleep(3)
            results = [_result(load, tmp_path / f"load-{i}.json") for i, load in enumerate(loads)]
    finally:
        client.set_registered_model_alias(NAME, CHAMPION, first)
        for load in loads:  # ended already unless the test failed midway
            if load.poll() is None:
                load.kill()
    text = (tmp_path / "rollout.log").read_text()
    assert f"{NAME}: v{first} → v{second}" in text, text[-3000:]
    assert f"{NAME}: v{second} → v{first}" in text, text[-3000:]
    for result in results:
        assert result["failed"] == 0, result["failed_by_kind"]
        assert result["requests"] > 100, result  # the load did run through both switches
        changes = [(float(t), str(v)) for t, v in result["changes"]]
        # every client saw the new version after the promotion, and the old one after rollback
        assert any(v == second and promoted_at <= t for t, v in changes), changes
        assert any(v == first and rolled_back_at <= t for t, v in changes), changes
    # the follower stopped its proxy and servers with itself: nothing answers any more
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/livez", timeout=2)
