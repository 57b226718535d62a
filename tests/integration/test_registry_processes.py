"""The registry across processes: a gate or rollback killed between any two writes leaves a
registry the next gate repairs, and concurrent gates in separate processes serialize."""

from __future__ import annotations

import itertools
import os
import shutil
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
from tests.model.synthetic import SPEC, make_training_set, train_and_log

NAME = "churn-model"
PROJECT = Path(__file__).resolve().parents[2]
WORKER = "tests.integration.registry_worker"


def _worker(*args: str, crash_after: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_after is not None:
        env[CRASH_ENV] = str(crash_after)
    cmd = [sys.executable, "-m", WORKER, *args]
    return subprocess.run(cmd, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)


def _assert_consistent() -> None:
    """Alias = history; no half-written gate or rollback left behind."""
    client = registry_client()
    aliases = {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}
    active = active_champions(client, NAME)
    assert aliases.get(CHAMPION) == (active[-1] if active else None)
    for v in list_versions(client, NAME):
        if TAG_GATE_DECISION not in v.tags:
            assert not [k for k in v.tags if k.startswith(("gate.", "champion."))], v.tags
        rollback_keys = {"champion.rolled_back_to", "champion.rollback_reason"} & set(v.tags)
        assert bool(rollback_keys) == (TAG_ROLLED_BACK_AT in v.tags), v.tags
    seqs = [r.seq for r in champion_history(client, NAME)]
    assert seqs == sorted(set(seqs))


def _release_dead_holders() -> None:
    """A killed holder keeps its slot until the lease expires (a minute); drop the limit instead
    of waiting — the next lock recreates it."""
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(limit_name(NAME))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_training_set(rows_per_cutoff=150)


def _registry_with(frame: pd.DataFrame, n: int, tmp: Path) -> Path:
    """n registered versions of one model (hash 'old' for v1 so gates skip re-scoring); the
    holdout saved for workers. Returns the holdout path."""
    _, evaluation, logged = train_and_log(frame)
    for _ in range(n):
        register_version(logged, metrics=evaluation.metrics, definitions_hash=SPEC.definitions_hash)
    registry_client().set_model_version_tag(NAME, "1", TAG_DEFINITIONS_HASH, "old")
    path = tmp / "holdout.parquet"
    evaluation.reference.to_parquet(path)
    return path


def _gate_args(version: str, holdout: Path) -> tuple[str, ...]:
    return ("gate", version, str(holdout), "0.99", SPEC.definitions_hash)


def _gate_here(version: str, holdout: Path, definitions_hash: str = SPEC.definitions_hash) -> str:
    """Gate in this process (the "next train"); return the champion it was compared with."""
    decision = gate_version(
        version=version,
        candidate_auc=0.99,
        holdout=pd.read_parquet(holdout),
        definitions_hash=definitions_hash,
        min_auc=0.5,
        tolerance=0.01,
    )
    assert decision.decision == "promoted", decision.reason
    return str(decision.champion_version)


def test_gate_and_rollback_killed_between_any_two_writes_are_repaired(
    sqlite_registry: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    holdout = _registry_with(frame, 4, tmp_path)
    _gate_here("1", holdout, definitions_hash="old")
    db, snapshot = sqlite_registry / "mlflow.db", tmp_path / "snapshot.db"
    shutil.copyfile(db, snapshot)

    def restore() -> None:  # in place: open connections see the restored file
        shutil.copyfile(snapshot, db)

    # gating v2 writes 11 times (10 tags, gate.decision the 10th, then the alias)
    for crash_after in range(1, 11):
        restore()
        done = _worker(*_gate_args("2", holdout), crash_after=crash_after)
        assert done.returncode == CRASH_EXIT_CODE, done.stderr[-2000:]
        _release_dead_holders()
        compared_with = _gate_here("3", holdout)  # the next train repairs on the way
        _assert_consistent()
        assert compared_with == ("2" if crash_after >= 10 else "1"), crash_after
    # rolling back v2 -> v1 writes 5 times (rolled_back_at, the commit, is the 3rd)
    restore()
    _gate_here("2", holdout)
    shutil.copyfile(db, snapshot)
    for crash_after in range(1, 5):
        restore()
        done = _worker("rollback", crash_after=crash_after)
        assert done.returncode == CRASH_EXIT_CODE, done.stderr[-2000:]
        _release_dead_holders()
        compared_with = _gate_here("3", holdout)
        _assert_consistent()
        assert compared_with == ("1" if crash_after >= 3 else "2"), crash_after


def _concurrent_gates(frame: pd.DataFrame, home: Path, tmp: Path) -> None:
    n = 4
    holdout = _registry_with(frame, n, tmp)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", WORKER, *_gate_args(str(v), holdout)],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in range(1, n + 1)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [err[-2000:] for _, err in outputs]
    decisions = {line.split()[0]: line.split()[1:] for line in (o.strip() for o, _ in outputs)}
    assert {d for d, _ in decisions.values()} == {"promoted"}
    history = champion_history()
    assert sorted(r.version for r in history) == [str(v) for v in range(1, n + 1)]
    assert [r.seq for r in history] == list(range(1, n + 1))
    # each gate saw the champion that really preceded it: one chain, no lost update
    order = [r.version for r in history]
    assert decisions[order[0]][1] == "None"
    for previous, version in itertools.pairwise(order):
        assert decisions[version][1] == previous
    _assert_consistent()


def test_concurrent_gates_in_processes_on_sqlite(
    sqlite_registry: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    _concurrent_gates(frame, sqlite_registry, tmp_path)


def test_concurrent_gates_in_processes_on_postgres(
    postgres_registry: str, churn_home: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    assert get_settings().mlflow_tracking_uri == postgres_registry
    _concurrent_gates(frame, churn_home, tmp_path)
