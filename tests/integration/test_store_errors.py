"""Stores that do not answer and artifacts that do not parse, as a person meets them: a command
started from a terminal answers within seconds in one line naming the store or the file (no
traceback without --verbose); a run started by a worker keeps its retries for what is transient,
and retries nothing for a broken artifact. Real Prefect server, MLflow store and warehouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect import flow
from prefect.client.orchestration import get_client
from sqlalchemy import insert

from core.cli import fail_fast
from core.db import make_engine
from core.names import CHAMPION, REFERENCE_ARTIFACT
from core.settings import get_settings
from core.tables import tickets
from tasks.monitoring.reference import PROFILE_ARTIFACT

PROJECT = Path(__file__).resolve().parents[2]
UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/churn"
UNREACHABLE_MLFLOW = "http://127.0.0.1:1"
HINT = "(--verbose or CHURN_DEBUG=1 shows the traceback)"


def _run(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m args`` as a person runs it from a terminal; the result and its seconds."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "PYTEST_"))}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", *args],
        env={**base, "PYTHONPATH": str(PROJECT), **env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.monotonic() - started


def _the_error(done: subprocess.CompletedProcess[str], prog: str) -> str:
    """The command's one-line error, checked to be the last but the hint, with no traceback."""
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    line, hint = done.stderr.strip().splitlines()[-2:]
    assert hint.strip() == HINT
    assert line.startswith(f"python -m {prog}: "), done.stderr[-3000:]
    return line


@pytest.mark.parametrize("command", [["flows.ingest"], ["flows.train"]])
def test_flow_cli_with_an_unreachable_database_answers_within_15_s(
    tmp_path: Path, prefect_server: str, command: list[str]
) -> None:
    done, seconds = _run(
        command,
        CHURN_HOME=str(tmp_path / "home"),
        CHURN_DATABASE_URL=UNREACHABLE_DB,
        PREFECT_API_URL=prefect_server,
    )
    line = _the_error(done, command[0])
    assert seconds < 15, (seconds, done.stderr[-3000:])  # was ~160 s: retries after 5, 30, 120 s
    assert "cannot reach the warehouse at postgresql+psycopg://postgres@127.0.0.1:1/churn" in line
    assert line.endswith("start the database server or fix CHURN_DATABASE_URL")
    assert "Retry 1/" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["tasks.deploy", "build"],  # was 251 s and 10 lines saying there was no champion
        ["tasks.deploy", "build", "--model-version", "1"],  # was 249 s, 121 lines, 5 tracebacks
        ["flows.monitor", "--no-reports"],  # said there was no champion
    ],
)
def test_cli_with_an_unreachable_mlflow_server_answers_within_15_s(
    tmp_path: Path, prefect_server: str, command: list[str]
) -> None:
    done, seconds = _run(
        command,
        CHURN_HOME=str(tmp_path / "home"),
        CHURN_MLFLOW_TRACKING_URI=UNREACHABLE_MLFLOW,
        PREFECT_API_URL=prefect_server,
    )
    line = _the_error(done, command[0])
    assert seconds < 15, (seconds, done.stderr[-3000:])
    assert line.startswith(
        f"python -m {command[0]}: cannot reach the MLflow store at {UNREACHABLE_MLFLOW} ("
    ), line
    assert line.endswith("start the MLflow server or fix CHURN_MLFLOW_TRACKING_URI")


def _prepare_warehouse(*, retries: bool) -> int:
    """Run the stores' set-up task against the unreachable warehouse (retry delays of 0 s,
    its own retry condition); how many times it ran."""
    from tasks.stores import prepare_stores_task

    fast = prepare_stores_task.with_options(retry_delay_seconds=0)

    @flow
    def set_up() -> tuple[bool, Any]:
        state = fast(tracking=False, return_state=True)
        return state.is_failed(), state.state_details.task_run_id

    with nullcontext() if retries else fail_fast():
        failed, task_run_id = set_up()
    assert failed
    with get_client(sync_client=True) as client:
        return int(client.read_task_run(task_run_id).run_count)


def test_a_workers_run_retries_an_unreachable_database_and_a_terminals_does_not(
    churn_home: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", UNREACHABLE_DB)
    get_settings.cache_clear()
    assert _prepare_warehouse(retries=True) == 4  # a worker's run: the first try + 3 retries
    assert _prepare_warehouse(retries=False) == 1  # started from a terminal: no retry


# --- a broken artifact -----------------------------------------------------------------------


def _register_with_truncated_profile(home: Path, template: Path) -> str:
    """churn-model v1 (champion) whose run logged a good holdout and a profile cut off at 1,000
    characters, as a full disk or a killed upload leaves it; the profile's file."""
    shutil.copy(template, home / "mlflow.db")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment(
        "churn-model", artifact_location=(home / "mlartifacts").resolve().as_uri()
    )
    run = client.create_run(experiment)
    holdout = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1.0, 2.0, 3.0]})
    profile = {"numeric": {f"f{i}": {"bins": list(range(20))} for i in range(20)}}
    with tempfile.TemporaryDirectory() as tmp:
        holdout.to_parquet(Path(tmp) / Path(REFERENCE_ARTIFACT).name, index=False)
        client.log_artifact(
            run.info.run_id, str(Path(tmp) / Path(REFERENCE_ARTIFACT).name), "reference"
        )
        profile_file = Path(tmp) / Path(PROFILE_ARTIFACT).name
        profile_file.write_text(json.dumps(profile, indent=1)[:1000], encoding="utf-8")
        client.log_artifact(run.info.run_id, str(profile_file), "reference")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("churn-model")
    version = client.create_model_version(
        "churn-model", source=f"{run.info.artifact_uri}/reference", run_id=run.info.run_id
    )
    client.set_registered_model_alias("churn-model", CHAMPION, version.version)
    return f"{run.info.artifact_uri}/{PROFILE_ARTIFACT}"


@pytest.fixture
def broken_home(
    churn_home: Path, mlflow_sqlite_template: Path, sqlite_template: Path
) -> tuple[Path, str]:
    """CHURN_HOME: a warehouse holding one fact (monitoring has a "now") and a champion whose
    drift profile is truncated; the profile's file."""
    churn_home.mkdir(parents=True)
    shutil.copy(sqlite_template, churn_home / "warehouse.db")
    engine = make_engine(get_settings().database_url)
    moment = datetime(2024, 6, 1)
    with engine.begin() as conn:
        conn.execute(
            insert(tickets).values(
                ticket_id="t1", customer_id="c1", created_at=moment, updated_at=moment,
                status="open", category="billing", priority="low", run_id="r1",
            )
        )  # fmt: skip
    engine.dispose()
    return churn_home, _register_with_truncated_profile(churn_home, mlflow_sqlite_template)


def test_a_truncated_profile_names_its_file_and_version_and_is_tried_once(
    broken_home: tuple[Path, str], prefect_server: str
) -> None:
    from tasks.artifacts import ArtifactError
    from tasks.modeldata import model_data
    from tasks.monitoring.steps import load_reference

    _, profile = broken_home
    engine = make_engine(get_settings().database_url)
    data = model_data("churn-model", engine=engine)
    engine.dispose()

    @flow
    def load() -> tuple[BaseException | None, Any]:  # a worker's run: retries allowed
        state = load_reference(data, return_state=True)
        error = state.result(raise_on_failure=False)
        return (
            error if isinstance(error, BaseException) else None
        ), state.state_details.task_run_id

    error, task_run_id = load()
    assert isinstance(error, ArtifactError), error
    assert (error.path, error.model, error.version) == (profile, "churn-model", "1")
    assert "Expecting" in error.reason  # the parser's own words: where the file stops
    with get_client(sync_client=True) as client:
        assert client.read_task_run(task_run_id).run_count == 1


def test_monitor_cli_on_a_truncated_profile_is_one_line_naming_it(
    broken_home: tuple[Path, str], prefect_server: str
) -> None:
    home, profile = broken_home
    done, _ = _run(
        ["flows.monitor", "--no-reports"], CHURN_HOME=str(home), PREFECT_API_URL=prefect_server
    )
    line = _the_error(done, "flows.monitor")
    assert line.startswith(
        f"python -m flows.monitor: churn-model v1: cannot read its artifact {profile} ("
    )
    assert "retrain churn-model" in line
    assert "JSONDecodeError" not in done.stderr
