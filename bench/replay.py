"""Months of operation, timed as a user runs them: ``make replay`` in a fresh ``CHURN_HOME``.

The whole command — simulation, the first champion, the platform (Prefect server and worker,
the API behind the proxy, the rollout follower), then ``REPLAY_MONTHS`` (default 6) simulated
months week by week with a price shock from month ``REPLAY_DRIFT_MONTH`` (3) — on free ports, then
``make down`` and ``make stop``. Figures: ``replay.wall_s`` (the command), ``replay.weeks``,
``replay.week_s`` (mean wall seconds of a week), ``replay.failed_requests``,
``replay.retrains_requested`` and ``replay.promotions``, read from the timeline it wrote
(``reports/replay-timeline.json``). ``python -m bench.replay --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import emit, free_port

PROJECT = Path(__file__).resolve().parents[1]


def replay_measured(months: int, drift_month: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-replay-home-") as tmp:
        ports = {
            "CHURN_HOME": str(Path(tmp) / "home"),
            "PREFECT_PORT": str(free_port()),
            "MLFLOW_PORT": str(free_port()),
            "EVIDENTLY_PORT": str(free_port()),
            "PORT": str(free_port()),
        }
        make = ["make", "-s", "-C", str(PROJECT), *(f"{k}={v}" for k, v in ports.items())]
        args = f"--months {months} --drift-month {drift_month} --seed {seed}"
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        started = time.perf_counter()
        try:
            subprocess.run([*make, "replay", f"REPLAY_ARGS={args}"], env=env, check=True)
            wall = time.perf_counter() - started
        finally:
            subprocess.run([*make, "down"], env=env, check=False)
            subprocess.run([*make, "stop"], env=env, check=False)
        rows = json.loads(
            (Path(ports["CHURN_HOME"]) / "reports" / "replay-timeline.json").read_text()
        )
    scale = f"{months} months, drift from month {drift_month}, seed {seed}"
    emit("replay.wall_s", wall, "s", scale=scale)
    emit("replay.weeks", len(rows), "weeks", scale=scale)
    emit("replay.week_s", sum(r["wall_s"] for r in rows) / max(len(rows), 1), "s", scale=scale)
    emit("replay.failed_requests", sum(r["failed"] for r in rows), "requests", scale=scale,
         requests=sum(r["requests"] for r in rows))  # fmt: skip
    emit("replay.retrains_requested", sum(bool(r["retrain_requested"]) for r in rows), "runs")
    promoted = [r["week"] for r in rows if "after the promotion" in r["decision"]]
    emit("replay.promotions", len(promoted), "versions", weeks=promoted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=int(os.environ.get("REPLAY_MONTHS", 6)))
    parser.add_argument(
        "--drift-month", type=int, default=int(os.environ.get("REPLAY_DRIFT_MONTH", 3))
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    replay_measured(args.months, args.drift_month, args.seed)


if __name__ == "__main__":
    main()
