"""Command-line benchmark: how long a flow's command line takes to refuse a bad parameter.

Each flow's CLI is started as a user starts it (``python -m flows.<name> <bad value>``, a fresh
process, an empty ``CHURN_HOME``) and timed until it exits with its one-line error. Goal: under
5 s. Figures ``cli.bad_param_s.<flow>`` (median of ``--repeat`` runs) and ``cli.bad_param_s.max``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import emit

PROJECT = Path(__file__).resolve().parents[1]
BAD_VALUES: dict[str, list[str]] = {
    "train": ["--min-auc", "2"],
    "retrain": ["--tolerance", "-1"],
    "monitor": ["--drift-share", "0"],
    "score_batch": ["--top-k", "-1"],
    "build_features": ["--as-of", "2999-01-01"],
    "ingest": ["--sources", "erp"],
    "table": ["spec.yaml", "--min-auc", "2"],
}


def time_refusal(flow: str, args: list[str], home: Path) -> float:
    """Seconds from process start to its exit; fails unless it refused the value (exit 2)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    env.update(CHURN_HOME=str(home), PYTHONPATH=str(PROJECT))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", f"flows.{flow}", *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 2:
        raise SystemExit(f"flows.{flow} {args} exited {done.returncode}: {done.stderr.strip()}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per flow (median reported)")
    args = parser.parse_args(argv)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for flow, bad in BAD_VALUES.items():
            runs = [time_refusal(flow, bad, Path(tmp) / "home") for _ in range(args.repeat)]
            median = statistics.median(runs)
            worst = max(worst, median)
            emit(f"cli.bad_param_s.{flow}", median, "s", args=" ".join(bad))
    emit("cli.bad_param_s.max", worst, "s", goal="< 5")


if __name__ == "__main__":
    main()
