"""MLflow registry stores for the registry tests: SQLite under CHURN_HOME, or PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from core.settings import get_settings


@pytest.fixture(scope="session")
def mlflow_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow SQLite store (creating one takes seconds; copying is instant)."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def sqlite_registry(churn_home: Path, mlflow_sqlite_template: Path, prefect_server: str) -> Path:
    """An empty SQLite MLflow store under CHURN_HOME; gates and rollbacks lock on the Prefect
    server."""
    churn_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(mlflow_sqlite_template, churn_home / "mlflow.db")
    return churn_home


@pytest.fixture
def postgres_registry(
    churn_home: Path,
    new_postgres_database: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
) -> Iterator[str]:
    url = new_postgres_database()
    monkeypatch.setenv("CHURN_MLFLOW_TRACKING_URI", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
