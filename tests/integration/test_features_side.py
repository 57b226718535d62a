"""The side feature session (tasks/features/side.py): a real second process, on SQLite and
PostgreSQL, gives the same features as one session; one that sees other data is not used; one
that fails names the failure."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine

import tasks.features.retrieval as retrieval
from simulator import SimConfig, simulate
from tasks.features.store import get_historical_features
from tasks.ingestion import ingest_source, list_sources
from tasks.labels import available_cutoffs, build_labels
from tests.integration.test_features_reference import assert_features_equal


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    simulate(SimConfig(customers=600, months=6, seed=5), folder)
    return folder


@pytest.fixture
def labels(engine: Engine, sources: Path) -> Iterator[pd.DataFrame]:
    for name in list_sources():
        ingest_source(name, engine=engine, source_dir=sources)
    cutoffs = available_cutoffs(engine=engine, horizon_days=30)
    yield build_labels(cutoffs, 30, engine=engine)


def _side_starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Force the side session for any size; record each start (its entity row count)."""
    started: list[int] = []
    start = retrieval.start_side_session

    def recording(conn: Connection, engine: Engine, ids, moments, sources):  # type: ignore[no-untyped-def]
        started.append(len(ids))
        return start(conn, engine, ids, moments, sources)

    monkeypatch.setattr(retrieval, "SIDE_SESSION_MIN_ROWS", 0)
    monkeypatch.setattr(retrieval, "start_side_session", recording)
    return started


def test_side_session_gives_the_features_of_one_session(
    engine: Engine, labels: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = get_historical_features(labels, engine=engine)
    started = _side_starts(monkeypatch)
    both = get_historical_features(labels, engine=engine)
    assert started == [len(labels)]  # the side process ran
    assert_features_equal(both, alone, rtol=0)
    pd.testing.assert_frame_equal(both, alone)


def test_side_session_that_sees_other_data_is_not_used(
    engine: Engine,
    labels: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alone = get_historical_features(labels, engine=engine)
    _side_starts(monkeypatch)
    # As if an ingestion committed between the two sessions' starts: the main session's
    # fingerprint no longer matches what the side session reads.
    monkeypatch.setattr(retrieval, "data_fingerprint", lambda conn: (-1, "another snapshot"))
    with caplog.at_level(logging.INFO, logger="tasks.features.retrieval"):
        both = get_historical_features(labels, engine=engine)
    assert "an ingestion committed as the side session started" in caplog.text
    pd.testing.assert_frame_equal(both, alone)


def test_a_failing_side_session_raises_with_its_error(
    engine: Engine, labels: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    _side_starts(monkeypatch)
    start = retrieval.start_side_session

    def broken(conn, engine, ids, moments, sources):  # type: ignore[no-untyped-def]
        bad = [
            type(s)(s.key, "SELECT no_such_column FROM feature_entities", s.names, s.text_names)
            for s in sources
        ]
        return start(conn, engine, ids, moments, bad)

    monkeypatch.setattr(retrieval, "start_side_session", broken)
    with pytest.raises(RuntimeError, match=r"side feature session failed[\s\S]*no_such_column"):
        get_historical_features(labels, engine=engine)


def test_side_module_refuses_to_run_by_hand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tasks.features.side"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "not meant to be run by hand" in out.stderr


def test_the_side_sessions_files_are_under_churn_home_and_hold_no_url(
    engine: Engine, labels: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, churn_home: Path
) -> None:
    """A SIGKILLed training left /tmp/churn-features-*/request.pkl holding the warehouse URL
    with its password: the request is now written under $CHURN_HOME/tmp, without the URL."""
    seen: list[tuple[Path, bytes]] = []
    start = retrieval.start_side_session

    def spying(conn, engine, ids, moments, sources):  # type: ignore[no-untyped-def]
        session = start(conn, engine, ids, moments, sources)
        seen.append((session._request, session._request.read_bytes()))
        return session

    monkeypatch.setattr(retrieval, "SIDE_SESSION_MIN_ROWS", 0)
    monkeypatch.setattr(retrieval, "start_side_session", spying)
    get_historical_features(labels, engine=engine)
    ((request, content),) = seen
    assert request.parent.parent == churn_home.resolve() / "tmp"
    url = engine.url
    for secret in (url.render_as_string(hide_password=False), str(url.database), "postgres"):
        assert secret.encode() not in content
    assert not request.exists()  # removed once the result was read


def test_a_killed_process_s_temporary_folder_is_removed_by_the_next(churn_home: Path) -> None:
    from core.tmp import temp_root, temporary_directory

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    orphan = temp_root() / f"churn-train-{int(gone.stdout)}-abc123"
    (orphan / "request.pkl").parent.mkdir()
    (orphan / "request.pkl").write_bytes(b"left behind by SIGKILL")
    alive = temp_root() / f"churn-train-{os.getpid()}-def456"
    alive.mkdir()
    with temporary_directory("churn-gate-") as made:
        assert Path(made).parent == temp_root()
        assert not orphan.exists() and alive.exists()
