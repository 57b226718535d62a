import os
import re
import subprocess
import sys
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


def _openmp_spin_count(env: dict[str, str]) -> str:
    """GOMP_SPINCOUNT as xgboost's OpenMP runtime reports it in a fresh training process."""
    out = subprocess.run(
        [sys.executable, "-c", "import tasks.training, xgboost"],
        env={**env, "OMP_DISPLAY_ENV": "VERBOSE"},
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", out.stderr)
    assert found, out.stderr[-2000:]
    return found.group(1)


def test_training_threads_sleep_instead_of_spinning_unless_told_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _openmp_spin_count(env) == "0"  # passive: no busy waiting at barriers
    assert _openmp_spin_count({**env, "OMP_WAIT_POLICY": "ACTIVE"}) != "0"  # the user's choice
