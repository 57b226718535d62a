"""Training benchmark on a 100,000-customer warehouse: warehouse → registered model, end to end.

Timed: build the training set (latest 12 cutoffs) → train (all cores) → evaluate → log to MLflow
→ register; the MLflow store is created before the clock starts, as the train flow does. Peak RSS
is that of the timed process and its child processes together (the side feature session runs
beside it), sampled every 0.1 s, and at least the timed process's own exact peak. The warehouse
(simulate + ingest, SQLite) is built once per size+seed and cached under
``$CHURN_HOME/bench-cache``; the timed part runs in a child process so that its peak RSS is its own.
Figures: ``train.wall_s``, ``train.peak_rss_mb``, ``train.holdout_roc_auc``; with
``--postgres-url`` (an empty database you created; loaded from the same simulated sources on first
use, which takes minutes at 100k customers) also ``train.wall_s.postgres`` and friends.
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

from rich.console import Console

from bench._common import TreeRss, emit
from core.settings import get_settings

CUSTOMERS = 100_000
MONTHS = 18
SEED = 42
console = Console(stderr=True)


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the warehouse, then time warehouse → registered model in a child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="simulated customers")
    parser.add_argument("--months", type=int, default=MONTHS, help="simulated months")
    parser.add_argument("--seed", type=int, default=SEED, help="simulator seed")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CHURN_BENCH_POSTGRES_URL"),
        help="also time training on this PostgreSQL database (e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/churn_bench; create it empty first); "
        "default: $CHURN_BENCH_POSTGRES_URL",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: the timed child
    args = parser.parse_args(argv)
    if args.worker:
        _timed_training(args.worker)
        return
    key = f"{args.customers}_m{args.months}_s{args.seed}"
    cache = (get_settings().home / "bench-cache").resolve()
    url = _warehouse(cache, key, customers=args.customers, months=args.months, seed=args.seed)
    _emit_figures(_run_worker(url), suffix="")
    if args.postgres_url:
        _postgres_warehouse(args.postgres_url, cache / f"training-sources-{key}")
        _emit_figures(_run_worker(args.postgres_url), suffix=".postgres")


def _run_worker(url: str) -> dict[str, float]:
    """Run the timed part in a child process against the warehouse at ``url``; its figures."""
    with tempfile.TemporaryDirectory(prefix="churn-bench-train-") as home:
        env = {**os.environ, "CHURN_HOME": home, "CHURN_DATABASE_URL": url}
        env.pop("CHURN_MLFLOW_TRACKING_URI", None)  # a throwaway MLflow store under the temp home
        with console.status(f"training on {url} (child process)"):
            out = subprocess.run(
                [sys.executable, "-m", "bench.training", "--worker", url],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
    if out.returncode != 0:
        raise RuntimeError(f"training worker failed ({out.returncode}):\n{out.stderr[-4000:]}")
    for line in out.stderr.splitlines():
        if line.startswith("# "):
            console.print(line)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def _emit_figures(figures: dict[str, float], *, suffix: str) -> None:
    emit(f"train.wall_s{suffix}", figures["wall_s"], "s", rows=figures["rows"])
    emit(f"train.peak_rss_mb{suffix}", figures["peak_rss_mb"], "MiB")
    emit(f"train.holdout_roc_auc{suffix}", figures["roc_auc"], "ratio")


def _postgres_warehouse(url: str, sources: Path) -> None:
    """Load the simulated sources into the PostgreSQL database at ``url`` unless it holds them.

    Ingestion is idempotent (upserts), so a load interrupted half way is completed by a rerun.
    """
    from sqlalchemy import func, inspect, select

    from core.db import make_engine, upgrade_database
    from core.tables import ingestion_runs
    from tasks.ingestion import ingest_source, list_sources

    upgrade_database(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            done = set()
            if inspect(conn).has_table(ingestion_runs.name):
                query = select(ingestion_runs.c.source, func.count()).where(
                    ingestion_runs.c.status == "succeeded"
                )
                done = {row[0] for row in conn.execute(query.group_by(ingestion_runs.c.source))}
        started = time.perf_counter()
        for source in list_sources():
            if source not in done:
                with console.status(f"ingesting {source} into PostgreSQL"):
                    ingest_source(source, engine=engine, source_dir=sources)
        if len(done) < len(list_sources()):
            console.print(f"# loaded PostgreSQL warehouse in {time.perf_counter() - started:.0f} s")
    finally:
        engine.dispose()


def _warehouse(cache: Path, key: str, *, customers: int, months: int, seed: int) -> str:
    """The cached SQLite warehouse for this size+seed, simulated and ingested on first use."""
    path = cache / f"training-warehouse-{key}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from core.db import make_engine, upgrade_database
    from simulator import SimConfig, simulate
    from tasks.ingestion import ingest_source, list_sources

    sources = cache / f"training-sources-{key}"
    started = time.perf_counter()
    if not (sources / "manifest.json").exists():
        simulate(SimConfig(customers=customers, months=months, seed=seed), sources, progress=True)
    partial = path.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    partial_url = f"sqlite:///{partial}"
    upgrade_database(partial_url)
    engine = make_engine(partial_url)
    try:
        for source in list_sources():
            with console.status(f"ingesting {source}"):
                ingest_source(source, engine=engine, source_dir=sources)
    finally:
        engine.dispose()
    partial.rename(path)  # only a complete warehouse is ever reused
    console.print(f"# built {path.name} in {time.perf_counter() - started:.0f} s")
    return url


def _timed_training(url: str) -> None:
    """Child: warehouse → training set → model → evaluation → MLflow run → registered version."""
    from core.stores import prepare_stores
    from tasks.registry import register_version
    from tasks.training import (
        evaluate_model,
        load_feature_spec,
        load_training_set,
        record_training_run,
        train_model,
    )

    horizon = get_settings().horizon_days
    # As the train flow does before it trains (prepare_stores_task): a new MLflow store is
    # created and migrated (2-3 s) once per store, not once per training.
    prepare_stores(warehouse=False, tracking=True)
    with TreeRss() as memory:
        started = time.perf_counter()
        spec = load_feature_spec.fn()
        frame = load_training_set.fn(horizon_days=horizon, database_url=url)
        built = time.perf_counter()
        trained = train_model.fn(frame, spec=spec)
        fitted = time.perf_counter()
        evaluation = evaluate_model.fn(trained, frame)
        logged = record_training_run(trained, evaluation, frame, horizon_days=horizon)
        baseline = evaluation.baseline
        assert baseline is not None  # evaluate_model fits it on the train cutoffs
        register_version(
            logged,
            metrics=evaluation.metrics,
            definitions_hash=spec.definitions_hash,
            baseline_auc=baseline.roc_auc,
        )
        wall = time.perf_counter() - started
    print(
        f"# training set {built - started:.1f} s, fit {fitted - built:.1f} s, "
        f"evaluate+log+register {wall - (fitted - started):.1f} s (of which the logistic "
        f"baseline {baseline.fit_seconds:.1f} s on {baseline.train_rows} rows, holdout roc_auc "
        f"{baseline.roc_auc:.4f})",
        file=sys.stderr,
    )
    figures = {
        "wall_s": wall,
        "peak_rss_mb": memory.peak_mb,
        "roc_auc": evaluation.metrics["roc_auc"],
        "rows": len(frame),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
