"""Serving benchmark: the champion's bento against a hand-written FastAPI baseline, same run.

Setup (cached under ``$CHURN_HOME/bench-cache/serving``): a small simulated warehouse, its online
store, a champion trained on it, its bento. Then, one after the other on this machine:
the bento (``bentoml serve``) under single-record ``/predict_features`` load for 10 s at 1 and at
16 connections and ``/predict`` by id at 16; then the baseline (``bench.serving_baseline``) under
the same ``/predict_features`` load. Load comes from ``bench.serving_load`` in its own process.
Figures: ``serving.rps_c1``, ``serving.p50_ms_c1``, ``serving.rps_c16``, ``serving.p99_ms_c16``,
``serving.non2xx``, ``serving.by_id_rps_c16``, ``serving.baseline_fastapi.rps_c{1,16}``.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bench._common import emit, free_port
from core.settings import get_settings

console = Console(stderr=True)
WAREHOUSE = {"customers": 600, "months": 8, "seed": 3}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    args = parser.parse_args(argv)
    home = (get_settings().home / "bench-cache" / "serving").resolve()
    os.environ["CHURN_HOME"] = str(home)
    os.environ.pop("CHURN_MLFLOW_TRACKING_URI", None)
    get_settings.cache_clear()

    from tasks.deploy import build_bento, serve_command, serve_env
    from tasks.deploy.model_import import model_store

    with console.status("champion + bento (cached after the first run)"):
        version = _champion(home)
        built = build_bento(version)
    console.print(f"# bento {built.tag}")
    records, ids = _samples()
    with tempfile.TemporaryDirectory(prefix="churn-bench-serving-") as tmp:
        features = Path(tmp) / "features.jsonl"
        by_id = Path(tmp) / "ids.jsonl"
        features.write_text("\n".join(json.dumps({"records": [r]}) for r in records))
        by_id.write_text("\n".join(json.dumps({"customer_ids": [i]}) for i in ids))
        port = free_port()
        with _server(serve_command(built.tag, port=port), serve_env(), port) as proc:
            c1 = _load(port, "/predict_features", features, 1, args.duration, proc)
            c16 = _load(port, "/predict_features", features, 16, args.duration, proc)
            ids16 = _load(port, "/predict", by_id, 16, args.duration, proc)
        model_dir = model_store().get(built.model.tag).path
        port = free_port()
        cmd = [sys.executable, "-m", "bench.serving_baseline", "--model-dir", model_dir]
        with _server([*cmd, "--port", str(port)], dict(os.environ), port, probe="/docs") as proc:
            base1 = _load(port, "/predict_features", features, 1, args.duration, proc)
            base16 = _load(port, "/predict_features", features, 16, args.duration, proc)
    emit("serving.rps_c1", c1["rps"], "req/s", **_cpu(c1))
    emit("serving.p50_ms_c1", c1["p50_ms"], "ms")
    emit("serving.rps_c16", c16["rps"], "req/s", p50_ms=round(c16["p50_ms"], 3), **_cpu(c16))
    emit("serving.p99_ms_c16", c16["p99_ms"], "ms")
    emit("serving.non2xx", c1["non2xx"] + c16["non2xx"] + ids16["non2xx"], "requests")
    emit("serving.by_id_rps_c16", ids16["rps"], "req/s", p99_ms=round(ids16["p99_ms"], 3))
    emit(
        "serving.baseline_fastapi.rps_c1",
        base1["rps"],
        "req/s",
        p50_ms=round(base1["p50_ms"], 3),
        **_cpu(base1),
    )
    emit(
        "serving.baseline_fastapi.rps_c16",
        base16["rps"],
        "req/s",
        p99_ms=round(base16["p99_ms"], 3),
        non2xx=base1["non2xx"] + base16["non2xx"],
        ratio_c16=round(c16["rps"] / base16["rps"], 3) if base16["rps"] else None,
        **_cpu(base16),
    )


def _cpu(result: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per request of the server (all its processes) and of the generator."""
    return {
        "server_cpu_ms_per_req": round(result["server_cpu_ms_per_req"], 3),
        "client_cpu_ms_per_req": round(result["client_cpu_ms_per_req"], 3),
    }


def _champion(home: Path) -> str:
    """The champion of the cached bench home; simulated, ingested, materialized, trained once."""
    from bench.training import _warehouse
    from core.db import make_engine, upgrade_database
    from tasks.deploy import champion_version
    from tasks.features import data_watermark, materialize

    home.mkdir(parents=True, exist_ok=True)
    url = _warehouse(home, "serving", **WAREHOUSE)  # reused once built
    upgrade_database(url)  # a cache built by older code gets this code's schema
    os.environ["CHURN_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        return champion_version()
    except RuntimeError:
        pass
    engine = make_engine(url)
    try:
        materialize(data_watermark(engine=engine), engine=engine)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    _train_and_gate(url)
    return champion_version()


def _train_and_gate(url: str) -> None:
    from core.settings import get_settings
    from tasks.registry import release_candidate
    from tasks.training import evaluate_model, load_feature_spec, load_training_set, train_model

    spec = load_feature_spec.fn()
    frame = load_training_set.fn(horizon_days=30, database_url=url, max_cutoffs=5)
    trained = train_model.fn(frame, spec=spec)
    evaluation = evaluate_model.fn(trained, frame)
    release_candidate(
        trained,
        evaluation,
        frame,
        model_name=get_settings().model_name,
        horizon_days=30,
        min_auc=0.5,
        tolerance=1.0,
    )


def _samples(n: int = 200) -> tuple[list[dict[str, Any]], list[str]]:
    """Feature records and ids of ``n`` customers from the online store."""
    from sqlalchemy import select

    from core.db import make_engine
    from core.tables import online_features

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(online_features.c.customer_id, online_features.c.features).limit(n)
            ).all()
    finally:
        engine.dispose()
    return [json.loads(r.features) for r in rows], [r.customer_id for r in rows]


def _load(
    port: int,
    path: str,
    bodies: Path,
    connections: int,
    duration: float,
    server: subprocess.Popen[bytes],
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{path}"
    cpu_before = _tree_cpu(server.pid)
    with console.status(f"{path}: {connections} connection(s) for {duration:.0f} s"):
        out = subprocess.run(
            [sys.executable, "-m", "bench.serving_load", "--url", url, "--bodies", str(bodies),
             "-c", str(connections), "-d", str(duration)],
            capture_output=True, text=True, check=True, timeout=duration + 60,
        )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    server_cpu = _tree_cpu(server.pid) - cpu_before
    result["server_cpu_ms_per_req"] = server_cpu * 1000 / max(result["requests"], 1)
    console.print(f"# {port}{path} c{connections}: {result}")
    return result


def _tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@contextmanager
def _server(
    cmd: list[str], env: dict[str, str], port: int, probe: str = "/readyz"
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` until its ``probe`` answers 200; SIGTERM it afterwards."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        yield from _until_stopped(proc, log, cmd, port, probe)


def _until_stopped(
    proc: subprocess.Popen[bytes], log: Any, cmd: list[str], port: int, probe: str
) -> Iterator[subprocess.Popen[bytes]]:
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"{cmd[0]} exited: {log.read()[-3000:].decode(errors='replace')}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(cmd)} not ready after 180 s")
            time.sleep(0.5)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
