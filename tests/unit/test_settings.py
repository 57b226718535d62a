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
    """GOMP_SPINCOUNT as xgboost's OpenMP runtime reports it in a fresh process of the project
    (``core`` sets the policy; every entry point imports it before xgboost)."""
    out = subprocess.run(
        [sys.executable, "-c", "import core, xgboost"],
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


def test_settings_ports_follow_the_make_variables_and_links_use_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PREFECT_PORT", "MLFLOW_PORT", "EVIDENTLY_PORT", "CHURN_MLFLOW_UI_URL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"CHURN_{name}", raising=False)
    s = Settings()
    assert (s.prefect_port, s.mlflow_port, s.evidently_port) == (4200, 5000, 8000)
    monkeypatch.setenv("PREFECT_PORT", "4300")
    monkeypatch.setenv("MLFLOW_PORT", "5123")
    monkeypatch.setenv("EVIDENTLY_PORT", "8123")
    s = Settings()
    assert (s.prefect_port, s.mlflow_port, s.evidently_port) == (4300, 5123, 8123)
    assert s.mlflow_ui_url == "http://127.0.0.1:5123"  # the retrain report's links
    assert s.evidently_ui_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("CHURN_PREFECT_PORT", "4400")
    monkeypatch.setenv("CHURN_MLFLOW_UI_URL", "http://mlflow.internal:80")
    s = Settings()
    assert s.prefect_port == 4400
    assert s.mlflow_ui_url == "http://mlflow.internal:80"


def test_settings_crash_window_must_exceed_the_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_CRASH_AFTER_S", "30")
    with pytest.raises(ValueError, match="crash_after_s"):
        Settings()
    monkeypatch.setenv("CHURN_CRASH_AFTER_S", "40")
    assert Settings().crash_after_s == 40


@pytest.mark.parametrize("entry", ["flows.declare", "flows.train", "ops.platform"])
def test_every_entry_point_beats_every_30_s(entry: str, tmp_path: Path) -> None:
    """``make declare`` ran its flow with Prefect's default heartbeat (180 s) and a healthy run
    was marked Crashed: importing any entry point turns 30 s heartbeats on, before prefect
    reads its settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHURN_"))}
    code = (
        f"import {entry}\n"
        "from prefect.settings import get_current_settings\n"
        "print(get_current_settings().flows.heartbeat_frequency)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "CHURN_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "30"
