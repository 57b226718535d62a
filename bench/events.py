"""Declared event logs at size: ingestion rate and memory, then the whole command vs a notebook.

A generated subscription-app event log (``simulator.tables.app_events``: 8 event types, usage
fading before churn) of ``EVENTS_CUSTOMERS`` accounts (default 20,000) over ``EVENTS_MONTHS``
months (default 12; about 14 million events) is written once as CSV under
``$CHURN_HOME/bench-cache/app-<customers>-<months>``.

1. Ingestion alone (``tasks.declared.pipeline.ingest_source``: contract checks, quarantine,
   duplicates, one transaction) into an empty warehouse, SQLite and PostgreSQL, each in a fresh
   process: ``events.ingest_rows_per_s.{sqlite,postgres}``, ``events.ingest_peak_rss_mb.*``.
2. The whole command a user runs (``make declare``, i.e. ``python -m flows.declare spec.yaml``)
   in a fresh ``CHURN_HOME`` whose Prefect server already runs: ingest, training set, train,
   gate, online store. ``events.table_wall_s``, ``events.peak_rss_mb`` (the command's process
   tree), ``events.holdout_roc_auc`` and the decision.
3. In the same run, the notebook (``bench/events_notebook.py``, plain pandas + XGBoost, fixed
   parameters) on the same files, scored on the system's holdout cutoff:
   ``events.baseline_notebook.{wall_s,peak_rss_mb,holdout_roc_auc}`` and the ratio
   ``events.table_vs_notebook``. ``--skip-ingest`` / ``--skip-table`` leave a part out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench._common import emit, free_port
from bench.ingestion import create_database, drop_database, postgres_admin
from core.db import upgrade_database
from core.homes import tool_homes
from core.settings import get_settings

PROJECT = Path(__file__).resolve().parents[1]
SPEC = {
    "name": "app",
    "kind": "events",
    "file": "events.csv",
    "id": "user_id",
    "event_time": "ts",
    "event_type": "event",
    "value": "amount",
    "subscriptions": {"file": "subscriptions.csv", "start": "started", "end": "ended"},
}


def event_files(customers: int, months: int) -> tuple[Path, int]:
    """The cached folder with events.csv, subscriptions.csv and spec.yaml; and its event rows."""
    import yaml

    from simulator.tables import app_events

    folder = (get_settings().home / "bench-cache" / f"app-{customers}-{months}").resolve()
    done = folder / "rows.txt"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        events, subs = app_events(customers, months=months, seed=5)
        events.to_csv(folder / "events.csv", index=False)
        subs.to_csv(folder / "subscriptions.csv", index=False)
        (folder / "spec.yaml").write_text(yaml.safe_dump(SPEC), encoding="utf-8")
        done.write_text(str(len(events)))
    return folder, int(done.read_text())


def measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; its last stdout line (JSON), wall seconds and process-tree peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    watched = psutil.Process(child.pid)
    while child.poll() is None:  # the child's tree only, not this process (it made the files)
        try:
            rss = sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)])
        except psutil.NoSuchProcess:
            break
        peak = max(peak, rss)
        time.sleep(0.05)
    out, err = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{err[-3000:]}")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {**figures, "wall_s": wall, "peak_rss_mb": peak / 2**20}


def ingest_in_child(url: str, folder: Path) -> dict[str, Any]:
    """Load the spec's files into ``url`` in a fresh process; its seconds and tree peak RSS."""
    code = (
        "import json, sys, time\n"
        "from core.db import make_engine\n"
        "from tasks.declared.pipeline import ingest_source\n"
        "from tasks.declared.spec import load_spec\n"
        "engine = make_engine(sys.argv[1])\n"
        "spec = load_spec(sys.argv[2])\n"
        "started = time.perf_counter()\n"
        "result = ingest_source(spec, engine=engine)\n"
        "print(json.dumps({'seconds': time.perf_counter() - started,"
        " 'read': result.rows_read, 'loaded': result.rows_loaded}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return measured([sys.executable, "-c", code, url, str(folder / "spec.yaml")], env)


def home_env(home: Path, prefect_port: int) -> dict[str, str]:
    """The environment of a user's shell in a fresh ``CHURN_HOME`` (every tool's home in it)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {
        **env,
        **tool_homes(home),
        "CHURN_HOME": str(home),
        "PREFECT_PORT": str(prefect_port),
        "PYTHONPATH": str(PROJECT),
    }


def declare_measured(spec: Path) -> dict[str, Any]:
    """``make declare`` of ``spec`` as a user runs it, in a fresh home whose Prefect server is
    already up: its JSON line, wall seconds and process-tree peak RSS (the server not counted)."""
    with tempfile.TemporaryDirectory(prefix="bench-declare-home-") as tmp:
        env = home_env(Path(tmp), free_port())
        server = [sys.executable, "-m", "ops.server"]
        subprocess.run([*server, "start"], env=env, check=True, capture_output=True)
        try:
            return measured([sys.executable, "-m", "flows.declare", str(spec)], env)
        finally:
            subprocess.run([*server, "stop"], env=env, check=False, capture_output=True)


def table_and_notebook(folder: Path, scale: str) -> None:
    """``make declare`` on the files in a fresh home (its Prefect server up first), then the
    notebook on the same files and the system's holdout cutoff, in this one run."""
    table = declare_measured(folder / "spec.yaml")
    if table.get("holdout_cutoff") is None:
        raise RuntimeError(f"the declared model has no out-of-time holdout cutoff: {table}")
    horizon = int(table.get("horizon_days") or get_settings().horizon_days)
    notebook = measured(
        [sys.executable, "-m", "bench.events_notebook", str(folder),
         "--holdout", str(table["holdout_cutoff"]), "--horizon-days", str(horizon)],
        {**os.environ, "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    same = {"scale": scale, "holdout_cutoff": str(table["holdout_cutoff"])}
    emit("events.table_wall_s", table["wall_s"], "s", **same, decision=table["decision"],
         training_rows=table["training_rows"], rows_loaded=table["rows_loaded"])  # fmt: skip
    emit("events.peak_rss_mb", table["peak_rss_mb"], "MiB", **same)
    emit("events.holdout_roc_auc", table["holdout_roc_auc"], "roc_auc", **same,
         baseline_roc_auc=table.get("baseline_roc_auc"))  # fmt: skip
    emit("events.baseline_notebook.wall_s", notebook["wall_s"], "s", **same,
         training_rows=notebook["training_rows"])  # fmt: skip
    emit("events.baseline_notebook.peak_rss_mb", notebook["peak_rss_mb"], "MiB", **same)
    emit("events.baseline_notebook.holdout_roc_auc", notebook["holdout_roc_auc"], "roc_auc",
         **same, holdout_rows=notebook["holdout_rows"])  # fmt: skip
    emit("events.table_vs_notebook", table["wall_s"] / notebook["wall_s"], "x", **same)


def ingestion(folder: Path, scale: str) -> None:
    """Ingestion alone into an empty SQLite and PostgreSQL warehouse."""
    backends: list[tuple[str, str, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        backends.append(("sqlite", f"sqlite:///{Path(tmp) / 'warehouse.db'}", None))
        admin = postgres_admin()
        if admin is not None:
            backends.append(("postgres", create_database(admin), admin))
        for backend, url, admin_url in backends:
            try:
                upgrade_database(url)
                figures = ingest_in_child(url, folder)
                emit(
                    f"events.ingest_rows_per_s.{backend}",
                    figures["read"] / figures["seconds"],
                    "rows/s",
                    scale=scale,
                    seconds=round(figures["seconds"], 2),
                    process_wall_s=round(figures["wall_s"], 2),
                    rows_loaded=figures["loaded"],
                )
                emit(f"events.ingest_peak_rss_mb.{backend}", figures["peak_rss_mb"], "MiB",
                     scale=scale)  # fmt: skip
            finally:
                if admin_url is not None:
                    drop_database(admin_url, url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("EVENTS_CUSTOMERS", 20_000))
    )
    parser.add_argument("--months", type=int, default=int(os.environ.get("EVENTS_MONTHS", 12)))
    parser.add_argument("--skip-ingest", action="store_true", help="leave out part 1")
    parser.add_argument("--skip-table", action="store_true", help="leave out parts 2 and 3")
    args = parser.parse_args(argv)
    folder, rows = event_files(args.customers, args.months)
    scale = f"{args.customers} accounts x {args.months} months"
    emit("events.rows", rows, "rows", scale=scale)
    emit("events.file_mb", (folder / "events.csv").stat().st_size / 2**20, "MiB", scale=scale)
    if not args.skip_ingest:
        ingestion(folder, scale)
    if not args.skip_table:
        table_and_notebook(folder, scale)


if __name__ == "__main__":
    main()
