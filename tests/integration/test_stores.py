"""Stores are set up once, safely: concurrent first use by several processes leaves an intact
MLflow store and warehouse; a bad CHURN_HOME fails at once with its cause."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import create_engine, inspect, text

from core.settings import get_settings
from core.stores import StoreSetupError, prepare_stores
from flows.ingest import ingest
from tests.model.pipeline import build_warehouse

PROJECT = Path(__file__).resolve().parents[2]
PREPARE = "from core.stores import prepare_stores; prepare_stores()"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    return {**env, "PYTHONPATH": str(PROJECT), **extra}


def _assert_intact(uri: str) -> None:
    """Every MLflow table present, schema at this MLflow's head, no half-done migration left."""
    from mlflow.store.db import utils

    engine = create_engine(uri)
    try:
        tables = inspect(engine).get_table_names()
        assert not [t for t in tables if t.startswith("_alembic_tmp")]
        assert utils._all_tables_exist(engine)
        assert utils._get_schema_version(engine) == utils._get_latest_schema_revision()
    finally:
        engine.dispose()


@pytest.mark.system  # moved out of make test (its 12-minute budget): several processes
@pytest.mark.timeout(1500)  # two full trainings in parallel on a shared 2-core machine
def test_two_trainings_at_once_on_an_empty_home_both_register(
    prefect_server: str, tmp_path: Path
) -> None:
    warehouse = build_warehouse(tmp_path / "data", customers=600, months=8, seed=3)
    home = tmp_path / "empty-home"
    env = _env(CHURN_HOME=str(home), CHURN_DATABASE_URL=warehouse, PREFECT_API_URL=prefect_server)
    cmd = [sys.executable, "-m", "flows.train", "--min-auc", "0.51", "--max-cutoffs", "3"]
    runs = [
        subprocess.Popen(cmd, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=1200)
        assert run.returncode == 0, err.decode()[-3000:]
    uri = f"sqlite:///{home / 'mlflow.db'}"
    _assert_intact(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # not a registry another test set
    versions = client.search_model_versions("name='churn-model'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    assert client.get_experiment_by_name("churn-model") is not None


def test_concurrent_store_setup_on_postgres(new_postgres_database: Callable[[], str]) -> None:
    warehouse, tracking = new_postgres_database(), new_postgres_database()
    env = _env(CHURN_DATABASE_URL=warehouse, CHURN_MLFLOW_TRACKING_URI=tracking)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE], env=env, cwd=PROJECT, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-3000:]
    _assert_intact(tracking)
    engine = create_engine(warehouse)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_churn_home_that_is_a_file_fails_at_once(
    prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("oops")
    monkeypatch.setenv("CHURN_HOME", str(home))
    monkeypatch.delenv("CHURN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(StoreSetupError, match="is a file, not a folder"):
            prepare_stores()
        state = ingest(return_state=True)
    finally:
        get_settings.cache_clear()
    assert state.is_failed()
    assert "is a file, not a folder" in (state.message or "")
    assert "UnfinishedRun" not in (state.message or "")
    with get_client(sync_client=True) as client:
        mine = client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    assert [(t.name.split("-")[0], t.run_count) for t in mine] == [("prepare_stores_task", 1)]
