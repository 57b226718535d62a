"""Feature-store benchmark on a 100,000-customer warehouse, on SQLite and on PostgreSQL.

Figures: point-in-time retrieval of 100k (customer_id, as_of) rows (seconds, and the peak RSS of a
child process doing only that), materialization of the online store for every active customer,
and online lookup latency for 1 and 100 ids per call. The warehouse is built once per size+seed
with the simulator and the real ingestion, and cached: a SQLite file under
``$CHURN_HOME/bench-cache`` and a PostgreSQL database ``churn_bench_<key>`` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench._common import emit
from core.db import make_engine, upgrade_database
from core.settings import get_settings
from tasks.features.population import (
    active_customer_ids,
    active_customers,
    data_watermark,
    moments_table,
)
from tasks.features.store import get_historical_features, lookup_online_rows, materialize

CUSTOMERS = 100_000
MONTHS = 12
SEED = 7
ENTITY_ROWS = 100_000
CUTOFFS = 4  # entity rows: active customers at the last 4 month starts, sampled to 100k
LOOKUP_CALLS = 2_000
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the warehouses and print one JSON line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="initial customer base")
    parser.add_argument("--seed", type=int, default=SEED, help="simulator seed")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one backend only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: the timed retrieval
    args = parser.parse_args(argv)
    if args.worker:
        _historical_worker(*json.loads(args.worker))
        return
    key = f"{args.customers}_m{MONTHS}_s{args.seed}"
    cache = (get_settings().home / "bench-cache").resolve()
    sources = _sources(cache / f"sources-{key}", args.customers, args.seed)
    for backend in [args.only] if args.only else ["sqlite", "postgres"]:
        if backend == "sqlite":
            url = _sqlite_warehouse(cache / f"features-warehouse-{key}.db", sources)
        else:
            url = _postgres_warehouse(f"churn_bench_features_{key}", sources)
        _measure(backend, url, cache / f"features-entities-{key}-{backend}.parquet")


def _log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def _sources(folder: Path, customers: int, seed: int) -> Path:
    """Simulated source exports, written once per size+seed."""
    if not (folder / "manifest.json").exists():
        from simulator import SimConfig, simulate

        started = time.perf_counter()
        simulate(SimConfig(customers=customers, months=MONTHS, seed=seed), folder, progress=True)
        _log(f"simulated {customers} customers in {time.perf_counter() - started:.0f} s")
    return folder


def _sqlite_warehouse(path: Path, sources: Path) -> str:
    """A loaded SQLite warehouse (built under a temporary name, renamed when complete)."""
    if not path.exists():
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        url = f"sqlite:///{building}"
        _load(url, sources)
        building.rename(path)
    return f"sqlite:///{path}"


def _postgres_warehouse(name: str, sources: Path) -> str:
    """A loaded PostgreSQL database (built under a temporary name, renamed when complete)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_building" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}_building"'))
            building = make_url(PG_ADMIN_URL).set(database=f"{name}_building")
            _load(building.render_as_string(hide_password=False), sources)
            conn.execute(text(f'ALTER DATABASE "{name}_building" RENAME TO "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _load(url: str, sources: Path) -> None:
    """Migrate, ingest every source with the real ingestion, refresh planner statistics."""
    from tasks.ingestion import ingest_source, list_sources

    started = time.perf_counter()
    upgrade_database(url)
    engine = make_engine(url)
    for name in list_sources():
        ingest_source(name, engine=engine, source_dir=sources)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        if engine.dialect.name == "sqlite":  # fold the WAL into the file before renaming it
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    seconds = time.perf_counter() - started
    _log(f"ingested {sources.name} into {make_url(url).database} in {seconds:.0f} s")


def _entity_rows(engine: Engine, path: Path) -> Path:
    """100k (customer_id, as_of) rows: customers active at the last monthly cutoffs, sampled."""
    watermark = data_watermark(engine=engine)
    if watermark is None:
        raise RuntimeError(f"benchmark warehouse {engine.url} is empty; delete it to rebuild")
    month = pd.Timestamp(datetime(watermark.year, watermark.month, 1))
    cutoffs = [(month - pd.DateOffset(months=k)).to_pydatetime() for k in range(CUTOFFS)]
    with engine.connect() as conn:
        rows = conn.execute(active_customers(moments_table(cutoffs))).all()
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "as_of", "cancel_date"])
    size = min(ENTITY_ROWS, len(frame))
    picked = np.sort(np.random.default_rng(SEED).choice(len(frame), size=size, replace=False))
    frame.iloc[picked][["customer_id", "as_of"]].to_parquet(path)
    return path


def _measure(backend: str, url: str, entity_path: Path) -> None:
    """Emit every figure of one backend."""
    engine = make_engine(url)
    _entity_rows(engine, entity_path)
    worker = json.dumps([url, str(entity_path)])
    cmd = [sys.executable, "-m", "bench.features", "--worker", worker]
    child = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    # cpu_s: this process's CPU time, a load-independent hint on a shared machine (on SQLite it
    # is nearly all the work; on PostgreSQL the work is the server's).
    emit(
        f"features.historical_100k_s.{backend}",
        result["seconds"],
        "s",
        rows=result["rows"],
        cpu_s=round(result["cpu_s"], 2),
    )
    emit(f"features.historical_100k_rss_mb.{backend}", result["peak_rss_mb"], "MiB")

    watermark = data_watermark(engine=engine)
    assert watermark is not None
    cpu = time.process_time()
    done = materialize(watermark, engine=engine)
    cpu = time.process_time() - cpu
    emit(
        f"features.materialize_s.{backend}", done.seconds, "s", rows=done.rows, cpu_s=round(cpu, 2)
    )

    ids = np.array(active_customer_ids(watermark, engine=engine))
    rng = np.random.default_rng(SEED)
    one = _latencies(engine, [[str(rng.choice(ids))] for _ in range(LOOKUP_CALLS)])
    hundred = _latencies(
        engine, [rng.choice(ids, 100, replace=False).tolist() for _ in range(LOOKUP_CALLS)]
    )
    emit(f"features.online_p50_ms.{backend}", float(np.percentile(one, 50)), "ms")
    emit(f"features.online_p99_ms.{backend}", float(np.percentile(one, 99)), "ms")
    emit(f"features.online_100ids_p99_ms.{backend}", float(np.percentile(hundred, 99)), "ms")
    engine.dispose()


def _latencies(engine: Engine, calls: list[list[str]]) -> np.ndarray:
    """Milliseconds per ``lookup_online_rows`` call (the serving path), after a warm-up."""
    for ids in calls[:50]:
        lookup_online_rows(ids, engine=engine)
    out = np.empty(len(calls))
    for i, ids in enumerate(calls):
        started = time.perf_counter()
        found = lookup_online_rows(ids, engine=engine)
        out[i] = (time.perf_counter() - started) * 1000
        if len(found) != len(set(ids)):
            raise RuntimeError(f"online lookup missed ids {sorted(set(ids) - set(found))[:5]}")
    return out


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ``ru_maxrss`` would include the parent's peak,
    which Linux carries over a fork+exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _historical_worker(url: str, entity_path: str) -> None:
    """Child process: one timed retrieval, so its peak RSS is the retrieval's own."""
    entities = pd.read_parquet(entity_path)
    engine = make_engine(url)
    started, cpu = time.perf_counter(), time.process_time()
    frame = get_historical_features(entities, engine=engine)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_rss_mb": peak, "rows": len(frame)}))


if __name__ == "__main__":
    main()
