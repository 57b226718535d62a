"""Ingestion benchmark: the whole billing log of a simulated business (default 100,000 customers,
12 months) through ``ingest_source('billing')`` — contract checks, quarantine, dedup on txn_id —
on SQLite and PostgreSQL, next to a raw bulk insert of the same rows into the same table.

The raw baseline times only its insert statements and commit (rows already in memory): plain
executemany on SQLite, COPY on PostgreSQL, no validation, no conflict handling. Figures:
``ingest.rows_per_s.{sqlite,postgres}`` (rows read from the source per second, end to end),
``ingest.raw_bulk_rows_per_s.{sqlite,postgres}``, ``ingest.peak_rss_mb`` (peak of this process,
which runs only the ingestions: the simulator and the raw baselines run in child processes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bench._common import emit, peak_rss_mb
from core.db import make_engine, upgrade_database
from core.settings import get_settings
from tasks.ingestion import IngestionResult, ingest_source
from tasks.ingestion.bulk import write_rows

PG_ENV = "CHURN_BENCH_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = ("txn_id", "customer_id", "txn_type", "amount", "occurred_at", "run_id")


def simulate_sources(out: Path, customers: int, months: int, seed: int) -> None:
    """Run the simulator in a child process (its memory must not count as ingestion's)."""
    cmd = [sys.executable, "-m", "simulator", "--customers", str(customers), "--months"]
    cmd += [str(months), "--seed", str(seed), "--out", str(out), "--quiet"]
    subprocess.run(cmd, check=True)


def time_ingestion(url: str, source_dir: Path) -> tuple[IngestionResult, float]:
    """Ingest the whole billing log into a fresh warehouse at ``url``; seconds end to end."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        result = ingest_source("billing", engine=engine, source_dir=source_dir)
        return result, time.perf_counter() - started
    finally:
        engine.dispose()


def loaded_chunks(sqlite_path: Path, chunk_rows: int) -> Iterator[list[tuple[object, ...]]]:
    """The transactions ingestion loaded, as stored (the raw baseline inserts the same rows)."""
    conn = sqlite3.connect(sqlite_path)
    try:
        cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM transactions ORDER BY rowid")
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    finally:
        conn.close()


def time_raw_bulk(url: str, rows_from: Path, chunk_rows: int) -> tuple[int, float]:
    """Plain bulk insert of the loaded rows into an empty ``transactions``; insert seconds only."""
    upgrade_database(url)
    engine = make_engine(url)
    count, seconds = 0, 0.0
    try:
        with engine.connect() as conn:
            for rows in loaded_chunks(rows_from, chunk_rows):
                started = time.perf_counter()
                write_rows(conn, "transactions", COLUMNS, rows)
                seconds += time.perf_counter() - started
                count += len(rows)
            started = time.perf_counter()
            conn.commit()
            seconds += time.perf_counter() - started
    finally:
        engine.dispose()
    return count, seconds


def postgres_admin() -> str | None:
    """Admin URL of a reachable PostgreSQL server, or None (with a note on stderr)."""
    url = os.environ.get(PG_ENV, PG_DEFAULT)
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        print(f"skipping PostgreSQL figures: {url} not reachable ({exc.orig})", file=sys.stderr)
        return None
    return url


def create_database(admin_url: str) -> str:
    name = f"churn_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def report(backend: str, result: IngestionResult, seconds: float, scale: str) -> None:
    emit(
        f"ingest.rows_per_s.{backend}",
        result.rows_read / seconds,
        "rows/s",
        scale=scale,
        rows_read=result.rows_read,
        rows_loaded=result.rows_loaded,
        rows_quarantined=result.rows_quarantined,
        seconds=round(seconds, 2),
    )


def raw_bulk_in_child(url: str, rows_from: Path, chunk_rows: int) -> tuple[int, float]:
    """The raw baseline in a fresh process, so its memory does not count as ingestion's."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(time_raw_bulk, url, rows_from, chunk_rows).result()


def emit_raw(backend: str, rows: int, seconds: float) -> None:
    emit(
        f"ingest.raw_bulk_rows_per_s.{backend}",
        rows / seconds,
        "rows/s",
        rows=rows,
        seconds=round(seconds, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingestion", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--source-dir", type=Path, help="reuse an existing simulation instead of simulating"
    )
    args = parser.parse_args()
    chunk_rows = get_settings().chunk_rows
    admin = postgres_admin()
    scale = "given --source-dir" if args.source_dir else f"{args.customers}x{args.months}m"
    with tempfile.TemporaryDirectory(prefix="churn-bench-ingest-") as tmp:
        work = Path(tmp)
        sources = args.source_dir or work / "sources"
        if args.source_dir is None:
            print(
                f"simulating {args.customers:,} customers x {args.months} months", file=sys.stderr
            )
            simulate_sources(sources, args.customers, args.months, args.seed)
        # Each ingestion run is followed at once by its baseline, so both see similar load.
        warehouse = work / "ingest.db"
        result, seconds = time_ingestion(f"sqlite:///{warehouse}", sources)
        report("sqlite", result, seconds, scale)
        emit_raw(
            "sqlite", *raw_bulk_in_child(f"sqlite:///{work / 'raw.db'}", warehouse, chunk_rows)
        )
        pg_urls: list[str] = []
        try:
            if admin:
                pg_urls.append(create_database(admin))
                result, seconds = time_ingestion(pg_urls[-1], sources)
                report("postgres", result, seconds, scale)
                pg_urls.append(create_database(admin))
                emit_raw("postgres", *raw_bulk_in_child(pg_urls[-1], warehouse, chunk_rows))
        finally:
            for url in pg_urls:
                drop_database(admin or PG_DEFAULT, url)
        emit("ingest.peak_rss_mb", peak_rss_mb(), "MiB", chunk_rows=chunk_rows)


if __name__ == "__main__":
    main()
