"""Declared event-log ingestion at size: rows per second and peak memory, SQLite and PostgreSQL.

A generated product event log (``simulator.tables.event_log``: logins fading before churn,
tickets, monthly payments) of ``EVENTS_CUSTOMERS`` accounts (default 20,000) over
``EVENTS_MONTHS`` months (default 12) is written once as CSV under
``$CHURN_HOME/bench-cache/events-<customers>-<months>`` and loaded through the declared source's
ingestion (``tasks.declared.pipeline.ingest_source``: contract checks, quarantine, duplicates,
one transaction) into an empty warehouse, each backend in a fresh process. Memory is that
process's tree, sampled every 50 ms (not the bench's own process, which may have generated the
log). Figures: ``events.rows``, ``events.file_mb``, ``events.ingest_rows_per_s.{sqlite,postgres}``
(rows read per second of loading), ``events.ingest_peak_rss_mb.{sqlite,postgres}``.
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

import psutil

from bench._common import emit
from bench.ingestion import create_database, drop_database, postgres_admin
from core.db import upgrade_database
from core.settings import get_settings

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

    from simulator.tables import event_log

    folder = (get_settings().home / "bench-cache" / f"events-{customers}-{months}").resolve()
    done = folder / "rows.txt"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        events, subs = event_log(customers, months=months, seed=5)
        events.to_csv(folder / "events.csv", index=False)
        subs.to_csv(folder / "subscriptions.csv", index=False)
        (folder / "spec.yaml").write_text(yaml.safe_dump(SPEC), encoding="utf-8")
        done.write_text(str(len(events)))
    return folder, int(done.read_text())


def ingest_in_child(url: str, folder: Path) -> dict[str, float]:
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
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", code, url, str(folder / "spec.yaml")]
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    watched = psutil.Process(child.pid)
    while child.poll() is None:  # the loading process's tree only, not this one
        try:
            rss = sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)])
        except psutil.NoSuchProcess:
            break
        peak = max(peak, rss)
        time.sleep(0.05)
    out, err = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"ingestion failed:\n{err[-3000:]}")
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return {**figures, "peak_rss_mb": peak / 2**20}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("EVENTS_CUSTOMERS", 20_000))
    )
    parser.add_argument("--months", type=int, default=int(os.environ.get("EVENTS_MONTHS", 12)))
    args = parser.parse_args(argv)
    folder, rows = event_files(args.customers, args.months)
    scale = f"{args.customers} accounts x {args.months} months"
    emit("events.rows", rows, "rows", scale=scale)
    emit("events.file_mb", (folder / "events.csv").stat().st_size / 2**20, "MiB", scale=scale)
    backends: list[tuple[str, str, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        backends.append(("sqlite", f"sqlite:///{Path(tmp) / 'warehouse.db'}", None))
        admin = postgres_admin()
        if admin is not None:
            backends.append(("postgres", create_database(admin), admin))
        for backend, url, admin_url in backends:
            try:
                upgrade_database(url)
                started = time.perf_counter()
                figures = ingest_in_child(url, folder)
                wall = time.perf_counter() - started
                emit(
                    f"events.ingest_rows_per_s.{backend}",
                    figures["read"] / figures["seconds"],
                    "rows/s",
                    scale=scale,
                    seconds=round(figures["seconds"], 2),
                    process_wall_s=round(wall, 2),
                    rows_loaded=figures["loaded"],
                )
                emit(f"events.ingest_peak_rss_mb.{backend}", figures["peak_rss_mb"], "MiB",
                     scale=scale)  # fmt: skip
            finally:
                if admin_url is not None:
                    drop_database(admin_url, url)


if __name__ == "__main__":
    main()
