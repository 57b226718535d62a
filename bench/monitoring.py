"""Drift benchmark: 1M current rows × 20 columns against a 1M-row reference.

Figures (each measured in its own child process, so its peak RSS is its own):
``monitor.drift_1m_s`` / ``monitor.drift_1m_rss_mb`` — our decision from the stored reference
profile (``monitoring.drift.detect_drift``; the profile is built once, as at training time, and
not timed); ``monitor.evidently_1m_s`` / ``monitor.evidently_1m_rss_mb`` — Evidently's
``DataDriftPreset`` on the same reference and current data (full snapshot, as a report would).
Also prints how many columns each found drifted, and whether they agree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from bench._common import emit, peak_rss_mb

ROWS = 1_000_000
NUMERIC = 15
CATEGORICAL = 5
console = Console(stderr=True)


def make_frame(rows: int, *, seed: int, shift: bool) -> pd.DataFrame:
    """Churn-like columns: skewed amounts, counts, day gaps, categories; ``shift`` moves some."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(NUMERIC):
        kind = i % 3
        if kind == 0:
            values = rng.gamma(2.0, 30.0 * (1.25 if shift and i < 6 else 1.0), rows)
        elif kind == 1:
            values = rng.poisson(1.5 if shift and i < 6 else 1.2, rows).astype("float64")
        else:
            values = rng.exponential(40.0, rows)
        values[rng.random(rows) < 0.02] = np.nan
        data[f"num_{i}"] = values
    for j in range(CATEGORICAL):
        probs = np.array([0.5, 0.3, 0.15, 0.05])
        if shift and j == 0:
            probs = np.array([0.35, 0.35, 0.2, 0.1])
        data[f"cat_{j}"] = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), rows, p=probs)
    return pd.DataFrame(data)


def _columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    names = [str(c) for c in frame.columns]
    return [c for c in names if c.startswith("num_")], [c for c in names if c.startswith("cat_")]


def _ours(folder: Path) -> dict[str, object]:
    from monitoring.drift import detect_drift

    profile = json.loads((folder / "profile.json").read_text(encoding="utf-8"))
    current = pd.read_parquet(folder / "current.parquet")
    started, cpu = time.perf_counter(), time.process_time()
    result = detect_drift(current, profile)
    elapsed = time.perf_counter() - started
    return {"s": elapsed, "cpu_s": time.process_time() - cpu, "drifted": sorted(result.drifted)}


def _evidently(folder: Path) -> dict[str, object]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    numeric, categorical = _columns(current)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    started, cpu = time.perf_counter(), time.process_time()
    run = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    metrics = run.dict()["metrics"]
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    drifted = []
    for metric in metrics:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            p_value = "p_value" in config["method"]
            value, threshold = metric["value"], config["threshold"]
            if (value < threshold) if p_value else (value >= threshold):
                drifted.append(config["column"])
    return {"s": elapsed, "cpu_s": cpu_s, "drifted": sorted(drifted)}


def _child(kind: str, folder: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.monitoring", "--worker", kind, "--data", str(folder)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of reference and of current")
    parser.add_argument("--skip-evidently", action="store_true", help="only our decision")
    parser.add_argument("--worker", choices=["ours", "evidently"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = (_ours if args.worker == "ours" else _evidently)(Path(args.data))
        print(json.dumps({**result, "rss_mb": peak_rss_mb()}))
        return
    from monitoring.profile import build_profile

    with tempfile.TemporaryDirectory(prefix="churn-bench-monitor-") as tmp:
        folder = Path(tmp)
        with console.status(f"generating {args.rows:,} reference + current rows"):
            reference = make_frame(args.rows, seed=1, shift=False)
            current = make_frame(args.rows, seed=2, shift=True)
            numeric, categorical = _columns(reference)
            profile = build_profile(reference, numeric=numeric, categorical=categorical)
            (folder / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
            reference.to_parquet(folder / "reference.parquet")
            current.to_parquet(folder / "current.parquet")
            del reference, current
        with console.status("our drift decision from the stored profile"):
            ours = _child("ours", folder)
        emit("monitor.drift_1m_s", float(ours["s"]), "s", rows=args.rows, cpu_s=ours["cpu_s"])
        emit("monitor.drift_1m_rss_mb", float(ours["rss_mb"]), "MiB")
        console.print(f"ours drifted: {ours['drifted']}")
        if args.skip_evidently:
            return
        with console.status("Evidently DataDriftPreset on the same data (minutes)"):
            theirs = _child("evidently", folder)
        emit(
            "monitor.evidently_1m_s", float(theirs["s"]), "s", rows=args.rows, cpu_s=theirs["cpu_s"]
        )
        emit("monitor.evidently_1m_rss_mb", float(theirs["rss_mb"]), "MiB")
        console.print(
            f"Evidently drifted: {theirs['drifted']}; agree: {ours['drifted'] == theirs['drifted']}"
        )


if __name__ == "__main__":
    main()
