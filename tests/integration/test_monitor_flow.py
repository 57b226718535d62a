"""The monitor flow end to end on the simulator's price shock: real warehouse, real MLflow store,
real Prefect server, real Evidently reports and UI. One drifted window does not retrain, however
often it is monitored; the second consecutive one emits ``churn.retrain.requested``, which the
deployment trigger declared in prefect.yaml turns into a run of the retrain deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from core.db import make_engine
from core.names import CHAMPION, REFERENCE_ARTIFACT, utc_now
from core.settings import get_settings
from core.tables import monitoring_metrics, prediction_log
from flows.monitor import monitor
from ops.deploy import deploy_all
from tasks.monitoring.data import CATEGORICAL, NUMERIC
from tasks.monitoring.store import monitor_window
from tests.conftest import _free_port
from tests.integration.monitoring_sim import PRICE_FEATURES, simulate_scenario

MODEL = "churn-model"


def _score(frame: pd.DataFrame) -> np.ndarray:
    """A fixed scoring rule standing in for the model: risk rises with price increases."""
    z = -3.0 + 4.0 * frame["price_change_pct_30d"].fillna(0.0) + 0.5 * frame["failed_payments_90d"]
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """CHURN_HOME with a drifted warehouse, served predictions and a champion with a reference."""
    folder = tmp_path_factory.mktemp("monitor-home")
    old = os.environ.get("CHURN_HOME")
    os.environ["CHURN_HOME"] = str(folder)
    os.environ.pop("CHURN_MLFLOW_TRACKING_URI", None)
    os.environ.pop("CHURN_DATABASE_URL", None)
    get_settings.cache_clear()
    scenario = simulate_scenario(folder, drift=True)
    assert scenario.url == get_settings().database_url
    reference = scenario.reference.assign(score=_score(scenario.reference))
    current = scenario.current.assign(score=_score(scenario.current))
    # the drifted traffic served in two windows: yesterday (UTC) and today so far
    now = utc_now()
    today = monitor_window(hours=24, now=now)[0]
    rows = [
        {
            "request_id": f"req-{day:%m%d}-{i}",
            "customer_id": r["customer_id"],
            "features": json.dumps(
                {n: (None if pd.isna(r[n]) else r[n]) for n in [*NUMERIC, *CATEGORICAL]}
            ),
            "score": float(r["score"]),
            "model_version": "1",
            "predicted_at": served_at,
            "as_of": pd.Timestamp(r["as_of"]).to_pydatetime(),
        }
        for day, served_at in (
            (today - timedelta(days=1), today - timedelta(hours=1)),
            (today, today + (now - today) / 2),
        )
        for i, r in enumerate(current.to_dict("records"))
    ]
    engine = make_engine(scenario.url)
    with engine.begin() as conn:
        conn.execute(insert(prediction_log), rows)
    engine.dispose()
    _register_champion(reference)
    yield folder
    if old is None:
        os.environ.pop("CHURN_HOME", None)
    else:
        os.environ["CHURN_HOME"] = old
    get_settings.cache_clear()


def _register_champion(reference: pd.DataFrame) -> None:
    """A model version whose run holds the reference holdout only (no profile: the monitor
    computes it, as for versions trained before profiles existed)."""
    uri = get_settings().mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment(
        MODEL, artifact_location=get_settings().mlflow_artifact_root.as_uri()
    )
    run = client.create_run(experiment)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "holdout.parquet"
        reference.to_parquet(path, index=False)
        client.log_artifact(run.info.run_id, str(path), str(Path(REFERENCE_ARTIFACT).parent))
    client.set_terminated(run.info.run_id)
    client.create_registered_model(MODEL)
    version = client.create_model_version(
        MODEL, source=f"{run.info.artifact_uri}/reference", run_id=run.info.run_id
    )
    client.set_registered_model_alias(MODEL, CHAMPION, version.version)


@pytest.fixture(scope="module")
def two_runs(home: Path, prefect_server: str) -> list[dict[str, Any]]:
    """Yesterday's drifted window monitored twice, then today's (K = 2, no cooldown); the
    deployments are registered before today's, so its event can trigger the training
    deployment. Returns [yesterday's rerun, today's run, yesterday's first run]."""
    params = {"k_runs": 2, "cooldown_days": 0.0, "min_labelled": 10_000, "sample_rows": 2000}
    today = monitor_window(hours=24, now=utc_now())
    yesterday = today[0]
    first = monitor(window_end=yesterday, **params)
    again = monitor(window_end=yesterday, **params)
    deploy_all(prefect_server)
    # the session's server may hold retrain runs of other tests: count only the new ones
    before = {run.id for run in _retrain_runs()}
    second = monitor(window_end=today[1], **params)
    second["_retrain_runs_before"] = before
    return [again, second, first]


def test_single_drifted_window_does_not_request_retrain(two_runs: list[dict[str, Any]]) -> None:
    again, _, first = two_runs
    for run in (first, again):
        assert run["verdict"].startswith("DRIFT")
        assert set(run["drifted_features"]) >= PRICE_FEATURES
        assert run["retrain_requested"] is False
        # the rerun of yesterday's window replaces its verdict: still one drifted window
        assert "1 of the last 2 windows" in run["decision"], run["decision"]


def test_a_window_monitored_again_replaces_its_result(
    two_runs: list[dict[str, Any]], home: Path
) -> None:
    """Figures, reports and the index row of yesterday's first run are gone after its rerun."""
    again, _, first = two_runs
    assert again["window"] == first["window"]
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        runs = conn.execute(select(monitoring_metrics.c.monitor_run_id).distinct()).scalars()
        assert first["run_id"] not in set(runs)
    engine.dispose()
    assert first["reports"] == again["reports"]  # same files, rewritten
    entries = json.loads((Path(again["index"]).parent / "index.json").read_text())
    listed = [e["run_id"] for e in entries]
    assert again["run_id"] in listed and first["run_id"] not in listed


def test_persistent_drift_emits_event_and_triggers_training(
    two_runs: list[dict[str, Any]], prefect_server: str
) -> None:
    second = two_runs[1]
    assert second["retrain_requested"] is True
    assert "2 consecutive windows" in second["decision"]
    event = _wait_for(lambda: _retrain_events(prefect_server), "churn.retrain.requested event")[0]
    assert event["resource"]["prefect.resource.id"] == f"churn.model.{MODEL}"
    assert set(event["payload"]["drifted_features"]) >= PRICE_FEATURES
    assert "consecutive" in event["payload"]["reason"]
    before = second["_retrain_runs_before"]
    runs = _wait_for(
        lambda: [r for r in _retrain_runs() if r.id not in before],
        "a flow run of deployment retrain-weekly",
    )
    assert len(runs) == 1
    assert runs[0].parameters["reason"].startswith("monitoring: churn.retrain.requested")
    assert runs[0].parameters["model_name"] == MODEL


def _retrain_events(api: str) -> list[dict[str, Any]]:
    body = {"filter": {"event": {"name": ["churn.retrain.requested"]}}, "limit": 10}
    response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    return list(response.json()["events"])


def _retrain_runs() -> list[Any]:
    """Runs of the retrain deployment created by an automation (not by its cron schedule)."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("retrain/retrain-weekly")
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        )
    return [r for r in runs if (r.idempotency_key or "").startswith("automation ")]


def _wait_for(probe: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout} s")


class _Verdicts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = ("class", "verdict") in attrs

    def handle_data(self, data: str) -> None:
        if self._in:
            self.found.append(data)
            self._in = False


def _verdicts(path: Path) -> list[str]:
    parser = _Verdicts()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.found


def test_reports_index_metrics_and_prometheus(two_runs: list[dict[str, Any]], home: Path) -> None:
    second = two_runs[1]
    # predictions as of July 1st: their 30-day horizon elapsed before the August watermark
    assert set(second["reports"]) == {"drift", "quality", "performance"}
    drift_verdicts = _verdicts(Path(second["reports"]["drift"]))
    assert drift_verdicts and drift_verdicts[0].startswith("DRIFT: ")
    assert "monthly_charges" in drift_verdicts[0]
    index = _verdicts(Path(second["index"]))
    assert len(index) == 2 and index[0].endswith("retrain requested")
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(monitoring_metrics.c.monitor_run_id, monitoring_metrics.c.metric)
        ).all()
    engine.dispose()
    assert {r[0] for r in rows} == {two_runs[0]["run_id"], second["run_id"]}  # not the first
    assert sum(1 for r in rows if r[0] == second["run_id"]) == second["figures"]
    text = Path(second["prometheus"]).read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["churn_drift_detected"].samples[0].value == 1.0
    assert families["churn_retrain_requested"].samples[0].value == 1.0
    assert families["churn_monitor_rows"].samples[0].labels["source"] == "prediction_log"
    assert 0.5 < families["churn_performance_roc_auc"].samples[0].value <= 1.0


@pytest.fixture(scope="module")
def evidently_ui(two_runs: list[dict[str, Any]], home: Path) -> Iterator[str]:
    """A real `evidently ui` on the workspace the flow wrote, on a free port."""
    port = _free_port()
    env = {**os.environ, "DO_NOT_TRACK": "1", "XDG_CONFIG_HOME": str(home / ".config")}
    binary = str(Path(sys.executable).parent / "evidently")
    workspace = str(get_settings().evidently_home)
    cmd = [binary, "ui", "--workspace", workspace, "--port", str(port), "--host", "127.0.0.1"]
    log = (home / "evidently-ui.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _answers(url, proc), "answer from evidently ui", timeout=120)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _answers(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError("evidently ui exited early; see evidently-ui.log")
    try:
        return httpx.get(f"{url}/api/projects", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_evidently_ui_lists_project_and_snapshots(evidently_ui: str) -> None:
    projects = httpx.get(f"{evidently_ui}/api/projects", timeout=10).json()
    project = next(p for p in projects if p["name"] == MODEL)
    snapshots = httpx.get(f"{evidently_ui}/api/projects/{project['id']}/snapshots", timeout=10)
    snapshots.raise_for_status()
    names = sorted(s["name"].split()[0] for s in snapshots.json())
    # one snapshot per report and window: yesterday's rerun replaced its first run's
    assert names == ["drift", "drift", "performance", "performance", "quality", "quality"]


@pytest.mark.system
def test_two_runs_of_one_window_at_once_leave_one_result(home: Path, prefect_server: str) -> None:
    """Two processes monitor the same window at the same time: they take turns on the model's
    monitoring lock, so the window keeps one result (figures, index row and Evidently
    snapshots of one run), not two, nor one run's figures with the other's reports."""
    from monitoring.workspace import open_project

    start, end = monitor_window(hours=24, now=utc_now() - timedelta(days=1))  # yesterday
    env = {
        **os.environ,
        "CHURN_HOME": str(home),
        "PREFECT_API_URL": prefect_server,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("CHURN_DATABASE_URL", None)
    env.pop("CHURN_MLFLOW_TRACKING_URI", None)
    command = [
        sys.executable, "-m", "flows.monitor", "--window-end", end.isoformat(),
        "--sample-rows", "500", "--k-runs", "2", "--cooldown-days", "7",
    ]  # fmt: skip
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-3000:]
    t = monitoring_metrics.c
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        runs_of_window = (
            conn.execute(select(t.monitor_run_id).where(t.window_end == end).distinct())
            .scalars()
            .all()
        )
    engine.dispose()
    assert len(runs_of_window) == 1, runs_of_window
    index = json.loads((get_settings().reports_dir / "index.json").read_text())
    rows = [e for e in index if e["window"][1] == end.isoformat(timespec="seconds")]
    assert [e["run_id"] for e in rows] == runs_of_window
    workspace, project = open_project(get_settings().evidently_home, MODEL)
    stem = f"{MODEL}-{start:%Y%m%d-%H%M%S}-{end:%Y%m%d-%H%M%S}"
    names = [workspace.get_run(project.id, i).name for i in workspace.list_runs(project.id)]
    assert sorted(n.split()[0] for n in names if n.endswith(stem)) == sorted(rows[0]["reports"])
