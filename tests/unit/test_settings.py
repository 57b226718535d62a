from pathlib import Path

import pytest

from core.settings import Settings


def test_settings_default_urls_live_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURN_DATABASE_URL", raising=False)
    monkeypatch.setenv("CHURN_HOME", "/tmp/some-home")
    s = Settings()
    assert s.home == Path("/tmp/some-home")
    assert s.database_url == "sqlite:////tmp/some-home/warehouse.db"
    assert s.mlflow_tracking_uri == "sqlite:////tmp/some-home/mlflow.db"


def test_settings_database_url_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"
