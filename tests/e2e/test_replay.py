"""A short replay on the real platform: a Prefect server and worker, the BentoML API, MLflow,
Evidently — two simulated months after a year of history, a price shock from the first.

The replay runs as a user runs it (``make replay``) in a home of its own; the assertions read
the timeline it wrote (``reports/replay-timeline.json``, the same rows as the Prefect artifact).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.dynamics import DRIFT_ROLLOUT_DAYS
from tasks.replay.history import PROBE_CUSTOMER
from tasks.replay.timeline import WALL_CLOCK_COLUMNS
from tasks.replay.traffic import TrafficResult, send_traffic

# two replays at once take ~5 minutes on a quiet 2-core machine; a shared one is slower
pytestmark = pytest.mark.timeout(1800)
PROJECT = Path(__file__).resolve().parents[2]
K_RUNS, COOLDOWN_DAYS = 2, 21.0
DRIFT_SHARE = 0.2  # the monitor flow's default: a run is drifted from this share of features
ARGS = (
    f"--customers 1000 --history-months 12 --months 2 --drift-month 1 --traffic 400"
    f" --k-runs {K_RUNS} --cooldown-days {COOLDOWN_DAYS} --rollout-timeout 120"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Replay:
    """One ``make replay`` in a home of its own, on ports of its own, in the background."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.ports = {n: str(_free_port()) for n in ("PREFECT", "MLFLOW", "EVIDENTLY", "BENTO")}
        make = ["make", "-C", str(PROJECT), f"CHURN_HOME={home}", f"PORT={self.ports['BENTO']}"]
        self.make = make + [f"{n}_PORT={self.ports[n]}" for n in ("PREFECT", "MLFLOW", "EVIDENTLY")]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "PREFECT_"))}
        self.output = home.parent / "replay.log"  # a file: a pipe nobody reads would block it
        with self.output.open("w") as log:
            self.process = subprocess.Popen(
                [*self.make, "replay", f"REPLAY_ARGS={ARGS}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def finish(self) -> dict[str, Any]:
        self.process.wait()
        out = self.output.read_text(errors="replace")
        assert self.process.returncode == 0, out[-6000:]
        artifact = httpx.post(
            f"http://127.0.0.1:{self.ports['PREFECT']}/api/artifacts/filter",
            json={"artifacts": {"key": {"any_": ["replay-timeline"]}}},
        ).json()
        return {
            "home": self.home,
            "rows": json.loads((self.home / "reports" / "replay-timeline.json").read_text()),
            "artifacts": artifact,
            "log": out,
            "make": self.make,
            "env": self.env,
            "url": f"http://127.0.0.1:{self.ports['BENTO']}",
        }

    def down(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        subprocess.run([*self.make, "down"], env=self.env, capture_output=True)


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    """The same replay twice at once, in two homes (the second only for the determinism diff;
    its platform is stopped as soon as it is done)."""
    runs = [_Replay(tmp_path_factory.mktemp(f"replay-{n}") / "home") for n in ("a", "b")]
    try:
        second = runs[1].finish()
        runs[1].down()
        yield [runs[0].finish(), second]
    finally:
        for run in runs:
            run.down()


@pytest.fixture(scope="module")
def replay(replays: list[dict[str, Any]]) -> dict[str, Any]:
    return replays[0]


def _weeks(replay: dict[str, Any]) -> list[dict[str, Any]]:
    return list(replay["rows"])


@pytest.mark.system
def test_replay_drift_flagged_retrain_requested_once_no_failed_request(
    replay: dict[str, Any],
) -> None:
    rows = _weeks(replay)
    assert len(rows) == 8  # two months of whole weeks
    drift_from = datetime.fromisoformat(rows[0]["until"]) - timedelta(days=7)  # drift month 1
    assert all(not r["drift"] for r in rows if datetime.fromisoformat(r["until"]) <= drift_from)
    # the shock reaches its customers over its first DRIFT_ROLLOUT_DAYS: the first week whose
    # window holds all of it is flagged (the one before may hold too little of it to be)
    rolled_out = drift_from + timedelta(days=DRIFT_ROLLOUT_DAYS)
    first_full = next(r for r in rows if datetime.fromisoformat(r["until"]) >= rolled_out)
    assert first_full["drift"], f"the first week after the shock was not flagged: {first_full}"
    requested = [i for i, r in enumerate(rows) if r["retrain_requested"]]
    assert requested, "no retrain was requested"
    first = requested[0]
    streak = rows[first - K_RUNS + 1 : first + 1]
    assert len(streak) == K_RUNS and all(r["drift"] for r in streak)
    at = datetime.fromisoformat(rows[first]["until"])
    cooldown = [
        i
        for i in requested
        if datetime.fromisoformat(rows[i]["until"]) - at < timedelta(days=COOLDOWN_DAYS)
    ]
    assert cooldown == [first]
    assert "retrain" in rows[first]["decision"] and "Completed" in rows[first]["decision"]
    assert sum(r["requests"] for r in rows) > 0
    assert [r["failed"] for r in rows] == [0] * len(rows)
    assert (replay["home"] / "reports" / "replay-timeline.png").stat().st_size > 0
    # each week's monitoring run leaves a drift report, but no data summary (docs/operations.md)
    for row in rows:
        end = datetime.fromisoformat(row["until"]) + timedelta(days=1)
        stem = f"churn-model-{end - timedelta(days=7):%Y%m%d-%H%M%S}-{end:%Y%m%d-%H%M%S}"
        assert (replay["home"] / "reports" / f"{stem}-drift.html").exists(), stem
        assert not (replay["home"] / "reports" / f"{stem}-quality.html").exists(), stem
    assert replay["artifacts"] and replay["artifacts"][0]["key"] == "replay-timeline"


@pytest.mark.system
def test_replay_same_seed_same_timeline(replays: list[dict[str, Any]]) -> None:
    """Two replays with the same seed and options, in two homes at once, give the same
    timeline: every column but the wall-clock ones (``tasks.replay.timeline``)."""
    first, second = ([_without_wall_clock(r) for r in run["rows"]] for run in replays)
    assert first == second


def _without_wall_clock(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in WALL_CLOCK_COLUMNS}


@pytest.mark.system
def test_replay_promoted_model_reaches_the_api(replay: dict[str, Any]) -> None:
    """The rollout follower (``ops.rollout``, started by ``make up``) switches the API to each
    promoted version: every week after a promotion is served by the champion."""
    rows = _weeks(replay)
    promoted = [r for r in rows if "promoted" in r["decision"]]
    assert promoted, "no retrain promoted a model"
    after = rows[rows.index(promoted[0]) + 1 :]
    assert after and all(r["served"] == r["champion"] for r in after), [
        (r["week"], r["served"], r["champion"]) for r in after
    ]
    # the new champion is measured against the population it was promoted on, not against its
    # holdout from before the shock: the shift it was trained on is no longer feature drift (its
    # score may still move: against a reference of under 1,000 rows that is a KS test)
    assert all(r["drift_share"] < DRIFT_SHARE and not r["retrain_requested"] for r in after), [
        (r["week"], r["drift_share"], r["decision"]) for r in after
    ]


@pytest.mark.system
def test_replay_rollback_reaches_the_api_without_a_failed_request(
    replay: dict[str, Any],
) -> None:
    """``make rollback`` after the replay's promotion: the running API (the platform the replay
    started) answers with the previous champion again, under traffic, and no request fails."""
    rows = _weeks(replay)
    promoted = [i for i, r in enumerate(rows) if "promoted" in r["decision"]]
    assert promoted, "no retrain promoted a model"
    before, after = rows[promoted[-1] - 1]["champion"], rows[-1]["champion"]
    assert before != after
    url, results, stop = replay["url"], [], threading.Event()

    def load() -> None:  # 4 requests in flight, as the replay's weekly traffic
        while not stop.is_set():
            results.append(send_traffic(url, [PROBE_CUSTOMER] * 200, batch=10))

    client = threading.Thread(target=load)
    client.start()
    try:
        done = subprocess.run(
            [*replay["make"], "rollback"], env=replay["env"], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        deadline = time.monotonic() + 120
        while _served(url) != before and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(3)  # requests to the old server drain while it stops
    finally:
        stop.set()
        client.join(timeout=30)
    assert _served(url) == before, f"the API still serves v{_served(url)}, not v{before}"
    total = TrafficResult(
        sum(r.requests for r in results),
        sum(r.failed for r in results),
        {v: sum(r.versions.get(v, 0) for r in results) for v in (before, after)},
        [e for r in results for e in r.errors][:5],
    )
    assert total.failed == 0, total.errors
    assert total.versions[after] > 0 and total.versions[before] > 0, total


def _served(url: str) -> str:
    answer = httpx.post(f"{url}/predict", json={"customer_ids": [PROBE_CUSTOMER]}, timeout=5)
    return str(answer.json()["model_version"])
