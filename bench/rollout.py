"""Rollout benchmark: a champion switch under 16 connections, and the naive restart it replaces.

Setup (cached under ``$CHURN_HOME/bench-cache/rollout``): the serving benchmark's small warehouse
and champion (v1), a second registry version of the same run (v2, another model version to
serve), both bentos built (as the train flow builds a promoted version's). Then, one after the
other, with ``bench.rollout_load`` (16 keep-alive connections, 5 s timeout, no retry) posting
``/predict`` by id the whole time:
- baseline: ``bentoml serve`` v1 on a port, SIGTERM it, ``bentoml serve`` v2 on the same port
  (BentoML binds without SO_REUSEPORT: the two cannot overlap) — ``rollout.baseline_restart.*``;
- the platform's rollout (``python -m ops.rollout``): the alias moves v1 → v2, then back to v1.
Before each, 8 s of ``bench.serving_load`` at 16 connections gives the requests per second of the
bento alone and through the proxy (in ``rollout.requests``). Figures: ``rollout.requests``,
``rollout.failed``, ``rollout.switch_s`` (alias move → first answer from the new version, the
slower of the two moves), ``rollout.baseline_restart.failed``, ``rollout.baseline_restart.gap_s``
(longest time without a successful answer).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bench._common import emit, free_port
from core.settings import get_settings

console = Console(stderr=True)
NAME = "churn-model"
PROBE: list[str] = []  # one customer id, set once the samples are read


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--poll-s", type=float, default=2.0, help="follower's registry interval")
    parser.add_argument("--settle-s", type=float, default=8.0, help="load before and after moves")
    args = parser.parse_args(argv)
    home = (get_settings().home / "bench-cache" / "rollout").resolve()
    os.environ["CHURN_HOME"] = str(home)
    os.environ.pop("CHURN_MLFLOW_TRACKING_URI", None)
    get_settings.cache_clear()
    from bench.serving import _champion, _samples
    from tasks.deploy import build_bento, serve_command, serve_env

    with console.status("champion, second version, bentos (cached after the first run)"):
        first = _champion(home)
        second = _second_version(first)
        tags = {v: build_bento(v, model_name=NAME).tag for v in (first, second)}
    _, ids = _samples()
    PROBE.append(ids[0])
    with tempfile.TemporaryDirectory(prefix="churn-bench-rollout-") as tmp:
        bodies = Path(tmp) / "ids.jsonl"
        bodies.write_text("\n".join(json.dumps({"customer_ids": [i]}) for i in ids))
        port = free_port()
        old = _serve(serve_command(tags[first], port=port), serve_env(), port)
        direct = _rps(port, bodies)
        load = _start_load(port, bodies, Path(tmp) / "baseline.json")
        time.sleep(args.settle_s)
        _stop(old)
        new = _serve(serve_command(tags[second], port=port), serve_env(), port)
        time.sleep(args.settle_s)
        baseline = _end_load(load, Path(tmp) / "baseline.json")
        _stop(new)
        console.print(f"# naive restart: {baseline}")
        rollout = _rollout(first, second, bodies, Path(tmp), args.poll_s, args.settle_s)
    load_avg = round(os.getloadavg()[0], 2)
    emit("rollout.requests", rollout["requests"], "requests", load_avg_1m=load_avg,
         rps_c16_through_proxy=rollout["proxied_rps"], rps_c16_direct=direct)  # fmt: skip
    emit("rollout.failed", rollout["failed"], "requests", by_kind=rollout["failed_by_kind"])
    emit("rollout.switch_s", max(rollout["switch_s"]), "s", promote_s=rollout["switch_s"][0],
         rollback_s=rollout["switch_s"][1], poll_s=args.poll_s)  # fmt: skip
    emit("rollout.baseline_restart.failed", baseline["failed"], "requests",
         requests=baseline["requests"], by_kind=baseline["failed_by_kind"])  # fmt: skip
    emit("rollout.baseline_restart.gap_s", baseline["max_gap_s"], "s", load_avg_1m=load_avg)


def _rollout(
    first: str, second: str, bodies: Path, tmp: Path, poll_s: float, settle_s: float
) -> dict[str, Any]:
    """The follower on v1; v1 → v2 → v1 under load; the tally and both switch times."""
    from tasks.deploy import serve_env

    _alias(first)
    port = free_port()
    cmd = [sys.executable, "-m", "ops.rollout", "--port", str(port), "--poll-s", str(poll_s)]
    log = (tmp / "rollout.log").open("wb")
    follower = subprocess.Popen(
        cmd, env=serve_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait(lambda: _version(port) == first, 300, "the follower never served v1")
        proxied = _rps(port, bodies)
        load = _start_load(port, bodies, tmp / "rollout.json")
        moves = []
        for version in (second, first):
            time.sleep(settle_s)
            moves.append((time.time(), version))
            _alias(version)
            _wait(lambda v=version: _version(port) == v, 300, f"v{version} never served")
        time.sleep(settle_s)
        result = _end_load(load, tmp / "rollout.json")
    finally:
        os.killpg(follower.pid, signal.SIGTERM)
        follower.wait(timeout=60)
        console.print(f"# follower log:\n{(tmp / 'rollout.log').read_text()[-2000:]}")
    changes = [(float(t), str(v)) for t, v in result["changes"]]
    result["proxied_rps"] = proxied
    result["switch_s"] = [
        round(min(t for t, v in changes if v == version and t >= moved) - moved, 3)
        for moved, version in moves
    ]
    console.print(f"# rollout: {result}")
    return result


def _rps(port: int, bodies: Path, seconds: float = 8.0) -> float:
    """Successful requests per second at 16 connections (``bench.serving_load``)."""
    cmd = [sys.executable, "-m", "bench.serving_load", "--url", f"http://127.0.0.1:{port}/predict",
           "--bodies", str(bodies), "-c", "16", "-d", str(seconds)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return round(float(json.loads(out.stdout.strip().splitlines()[-1])["rps"]), 1)


def _second_version(first: str) -> str:
    """A second version of the champion's run (registered once): another version to serve."""
    from core.names import TAG_DEFINITIONS_HASH
    from tasks.deploy.model_import import registry_client

    client = registry_client()
    versions = client.search_model_versions(f"name='{NAME}'")
    others = sorted((int(v.version) for v in versions if str(v.version) != first), reverse=True)
    if others:
        return str(others[0])
    source = client.get_model_version(NAME, first)
    tags = {TAG_DEFINITIONS_HASH: source.tags[TAG_DEFINITIONS_HASH]}
    made = client.create_model_version(NAME, str(source.source), run_id=source.run_id, tags=tags)
    return str(made.version)


def _alias(version: str) -> None:
    from core.names import CHAMPION
    from tasks.deploy.model_import import registry_client

    registry_client().set_registered_model_alias(NAME, CHAMPION, version)


def _version(port: int) -> str | None:
    """The model version answering on ``port`` right now (None: no answer)."""
    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"customer_ids": PROBE})
    except httpx.HTTPError:
        return None
    return str(answer.json()["model_version"]) if answer.status_code == 200 else None


def _wait(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.2)


def _serve(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: _version(port) is not None, 300, f"{' '.join(cmd)} did not answer")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def _start_load(port: int, bodies: Path, out: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "bench.rollout_load", "--url", f"http://127.0.0.1:{port}/predict",
           "--bodies", str(bodies), "-c", "16", "-d", "300", "--timeout", "5"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=out.open("wb"))


def _end_load(load: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    load.send_signal(signal.SIGTERM)
    if load.wait(timeout=30) != 0:
        raise RuntimeError(f"the load client failed (exit {load.returncode})")
    result: dict[str, Any] = json.loads(out.read_text().strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
