"""The registry across processes: a gate or rollback killed between any two writes leaves a
registry the next gate repairs, and concurrent gates in separate processes serialize."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from prefect.client.orchestration import get_client

from core.names import CHAMPION, TAG_DEFINITIONS_HASH, TAG_GATE_DECISION, TAG_ROLLED_BACK_AT
from core.settings import get_settings
from tasks.registry import (
    champion_history,
    gate_version,
    list_versions,
    register_version,
    registry_client,
)
from tasks.registry.lock import limit_name
from tasks.registry.store import CRASH_ENV, CRASH_EXIT_CODE, active_champions
from tasks.training import Evaluation, LoggedRun
from tests.model.synthetic import SPEC, make_training_set, train_and_log

NAME = "churn-model"
PROJECT = Path(__file__).resolve().parents[2]
WORKER = "tests.integration.registry_worker"


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    return subprocess.Popen(
        [sys.executable, "-m", WORKER, *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _forked(
    cases: list[tuple[tuple[str, ...], int | None]], tmp: Path
) -> tuple[list[str], list[int]]:
    """Run each (worker args, crash after n writes) in a process of its own, all at once, forked
    from one worker process that imported MLflow and Prefect once; (output lines, exit codes)."""
    plan = tmp / "cases.json"
    plan.write_text(json.dumps([{"args": list(a), "crash_after": n} for a, n in cases]))
    parent = _spawn("fork", str(plan))
    out, err = parent.communicate(timeout=900)
    assert parent.returncode == 0, err[-2000:]
    *lines, codes = out.strip().splitlines()
    return lines, json.loads(codes)


def _assert_consistent(name: str) -> None:
    """Alias = history; no half-written gate or rollback left behind."""
    client = registry_client()
    aliases = {a: str(v) for a, v in client.get_registered_model(name).aliases.items()}
    active = active_champions(client, name)
    assert aliases.get(CHAMPION) == (active[-1] if active else None)
    for v in list_versions(client, name):
        if TAG_GATE_DECISION not in v.tags:
            assert not [k for k in v.tags if k.startswith(("gate.", "champion."))], v.tags
        rollback_keys = {"champion.rolled_back_to", "champion.rollback_reason"} & set(v.tags)
        assert bool(rollback_keys) == (TAG_ROLLED_BACK_AT in v.tags), v.tags
    seqs = [r.seq for r in champion_history(client, name)]
    assert seqs == sorted(set(seqs))


def _release_dead_holder(name: str) -> None:
    """A killed holder keeps its slot until the lease expires (a minute); drop the limit instead
    of waiting — the next lock recreates it."""
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(limit_name(name))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_training_set(rows_per_cutoff=150)


def _register(logged: LoggedRun, evaluation: Evaluation, name: str, n: int) -> None:
    """n versions of ``name``; v1 on other definitions, so gates against it re-score nothing."""
    for _ in range(n):
        register_version(
            logged, metrics=evaluation.metrics, definitions_hash=SPEC.definitions_hash, name=name
        )
    registry_client().set_model_version_tag(name, "1", TAG_DEFINITIONS_HASH, "old")


def _gate_args(name: str, version: str, holdout: Path) -> tuple[str, ...]:
    return ("gate", name, version, str(holdout), "0.99", SPEC.definitions_hash)


def _gate_here(name: str, version: str, holdout: Path, definitions_hash: str) -> str:
    """Gate in this process (the "next train"); return the champion it was compared with.

    Every version here has the same data: a negative min_gain promotes it anyway."""
    decision = gate_version(
        name=name,
        version=version,
        candidate_auc=0.99,
        holdout=pd.read_parquet(holdout),
        definitions_hash=definitions_hash,
        min_auc=0.5,
        tolerance=0.01,
        min_gain=-1.0,
    )
    assert decision.decision == "promoted", decision.reason
    return str(decision.champion_version)


# Gating v2 writes 13 times (gate.decision, the commit, is the 12th; the alias the 13th);
# rolling back writes 5 times (rolled_back_at, the commit, is the 3rd).
GATE_WRITES, GATE_COMMIT, ROLLBACK_WRITES, ROLLBACK_COMMIT = 13, 12, 5, 3


@pytest.mark.system
@pytest.mark.timeout(1800)
def test_gate_and_rollback_killed_between_any_two_writes_are_repaired(
    sqlite_registry: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    _, evaluation, logged = train_and_log(frame)
    holdout = tmp_path / "holdout.parquet"
    evaluation.reference.to_parquet(holdout)
    cases = [("gate", n) for n in range(1, GATE_WRITES)]
    cases += [("rollback", n) for n in range(1, ROLLBACK_WRITES)]
    # one model per kill point (each with its own lock), so the killed processes run at once
    for op, n in cases:
        name = f"crash-{op}-{n}"
        _register(logged, evaluation, name, 3)
        _gate_here(name, "1", holdout, "old")
        if op == "rollback":
            _gate_here(name, "2", holdout, SPEC.definitions_hash)
    # one process per kill point, forked from one that imported MLflow and Prefect once
    _, codes = _forked(
        [
            (
                _gate_args(f"crash-{op}-{n}", "2", holdout)
                if op == "gate"
                else (op, f"crash-{op}-{n}"),
                n,
            )
            for op, n in cases
        ],
        tmp_path,
    )
    assert codes == [CRASH_EXIT_CODE] * len(cases), (cases, codes)
    for op, n in cases:
        name = f"crash-{op}-{n}"
        _release_dead_holder(name)
        compared_with = _gate_here(name, "3", holdout, SPEC.definitions_hash)  # repairs first
        _assert_consistent(name)
        if op == "gate":  # v2 became champion only if its gate committed
            assert compared_with == ("2" if n >= GATE_COMMIT else "1"), (op, n)
        else:  # v2 stays champion unless the rollback committed
            assert compared_with == ("1" if n >= ROLLBACK_COMMIT else "2"), (op, n)


def _concurrent_gates(frame: pd.DataFrame, tmp: Path) -> None:
    n = 4
    _, evaluation, logged = train_and_log(frame)
    _register(logged, evaluation, NAME, n)
    holdout = tmp / "holdout.parquet"
    evaluation.reference.to_parquet(holdout)
    # every version was trained on the same data: a negative min_gain lets each one through,
    # so that every gate promotes and the chain of champions shows the serialization
    lines, codes = _forked(
        [((*_gate_args(NAME, str(v), holdout), "-1"), None) for v in range(1, n + 1)], tmp
    )
    assert codes == [0] * n
    decisions = {line.split()[0]: line.split()[1:] for line in lines}
    assert {d for d, _ in decisions.values()} == {"promoted"}
    history = champion_history(name=NAME)
    assert sorted(r.version for r in history) == [str(v) for v in range(1, n + 1)]
    assert [r.seq for r in history] == list(range(1, n + 1))
    # each gate saw the champion that really preceded it: one chain, no lost update
    order = [r.version for r in history]
    assert decisions[order[0]][1] == "None"
    for previous, version in itertools.pairwise(order):
        assert decisions[version][1] == previous
    _assert_consistent(NAME)


def test_concurrent_gates_in_processes_on_sqlite(
    sqlite_registry: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    _concurrent_gates(frame, tmp_path)


def test_concurrent_gates_in_processes_on_postgres(
    postgres_registry: str, churn_home: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    assert get_settings().mlflow_tracking_uri == postgres_registry
    _concurrent_gates(frame, tmp_path)
