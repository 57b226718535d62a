"""A declared source's model served by id: ``make declare`` on a flat churn table → ``churn-telco``
champion → its bento (``tasks.deploy build --model-name churn-telco``) → ``bentoml serve``. By id
it scores the source's online rows exactly like the registry model; ``/predict_features`` takes the
source's feature record and names a bad field. Real Prefect server, MLflow store, warehouse and
HTTP server; one bento build."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
import yaml
from sqlalchemy import func, select

from bentos.schemas import UNKNOWN_CUSTOMER
from core.db import make_engine
from core.names import utc_now
from core.settings import get_settings
from core.tables import online_features, prediction_log
from tests.declared.files import NOT_THE_BASELINE, TELCO_SPEC, write_spec, write_telco
from tests.serving.conftest import (
    Server,
    modules_loaded_by_bento,
    start_server,
    stop_server,
)

MODEL = "churn-telco"


@dataclass(frozen=True)
class SourceStack:
    home: Path
    spec: Path
    database_url: str
    tracking_uri: str
    env: dict[str, str]
    tag: str
    bento: Path
    version: str


@pytest.fixture(scope="module")
def source_stack(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> SourceStack:
    from flows.declare import declare
    from tasks.deploy import build_bento, champion_version, serve_env

    folder = tmp_path_factory.mktemp("declared-serving")
    write_telco(folder, rows=600, signal=1.6)
    spec = write_spec(folder, TELCO_SPEC)
    home = folder / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(home))
        mp.delenv("CHURN_DATABASE_URL", raising=False)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        summary = declare(spec=str(spec), min_auc=0.6, min_baseline_gain=NOT_THE_BASELINE)
        assert summary["decision"] == "promoted", summary
        version = champion_version(MODEL)
        built = build_bento(version, model_name=MODEL)
        settings = get_settings()
        stack = SourceStack(
            home,
            spec,
            settings.database_url,
            settings.mlflow_tracking_uri,
            serve_env(),
            built.tag,
            built.path,
            version,
        )
    get_settings.cache_clear()
    return stack


@pytest.fixture(scope="module")
def source_server(source_stack: SourceStack, outside_dir: Path) -> Iterator[Server]:
    running = start_server(source_stack.tag, source_stack.env, outside_dir)
    yield running
    stop_server(running)


def _online(stack: SourceStack, n: int = 25) -> dict[str, dict[str, Any]]:
    """``n`` customers' online feature documents of the source, by id."""
    t = online_features.c
    engine = make_engine(stack.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.customer_id, t.features)
            .where(t.view == "telco")
            .order_by(t.customer_id)
            .limit(n)
        ).all()
    engine.dispose()
    return {r.customer_id: json.loads(r.features) for r in rows}


def _registry_scores(stack: SourceStack, ids: list[str]) -> np.ndarray:
    """The registry model's scores of the source's online features of ``ids``."""
    from tasks.declared.pipeline import load_definition
    from tasks.declared.spec import load_spec
    from tasks.features.lookup import get_online_features

    engine = make_engine(stack.database_url)
    features = load_definition(load_spec(stack.spec), engine=engine)
    online = get_online_features(ids, engine=engine, view=features.online_view)
    engine.dispose()
    assert online.frame["customer_id"].tolist() == ids
    mlflow.set_tracking_uri(stack.tracking_uri)
    mlflow.set_registry_uri(stack.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{stack.version}")
    return np.asarray(model.predict(online.frame.drop(columns="customer_id"))["score"])


def test_predict_by_id_equals_the_registry_model(
    source_stack: SourceStack, source_server: Server
) -> None:
    ids = list(_online(source_stack))
    response = httpx.post(
        f"{source_server.url}/predict", json={"customer_ids": [*ids, "nobody"]}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == source_stack.version
    *known, unknown = body["predictions"]
    assert [p["customer_id"] for p in known] == ids
    served = [p["probability"] for p in known]
    np.testing.assert_allclose(served, _registry_scores(source_stack, ids), rtol=0, atol=1e-6)
    assert len(set(served)) > 1
    # an unknown id is reported per item, as on the built-in service
    assert unknown["customer_id"] == "nobody" and unknown["error"] == UNKNOWN_CUSTOMER
    assert unknown["probability"] is None


def test_predict_features_takes_the_source_record(
    source_stack: SourceStack, source_server: Server
) -> None:
    docs = _online(source_stack, 3)
    records = list(docs.values())
    ok = httpx.post(f"{source_server.url}/predict_features", json={"records": records})
    assert ok.status_code == 200, ok.text
    by_id = httpx.post(f"{source_server.url}/predict", json={"customer_ids": list(docs)}).json()
    np.testing.assert_allclose(
        [p["probability"] for p in ok.json()["predictions"]],
        [p["probability"] for p in by_id["predictions"]],
        rtol=0,
        atol=1e-9,
    )
    record = records[0]
    category = next(k for k, v in record.items() if isinstance(v, str))
    number = next(k for k, v in record.items() if not isinstance(v, str))
    for change, field in [
        ({"favourite_colour": "blue"}, "favourite_colour"),  # not a feature of the source
        ({"tenure_days": 30}, "tenure_days"),  # a built-in feature is not one either
        ({category: "no such value"}, category),
        ({number: "12"}, number),
        ({number: True}, number),
    ]:
        bad = {**record, **change}
        response = httpx.post(
            f"{source_server.url}/predict_features", json={"records": [record, bad]}
        )
        assert 400 <= response.status_code < 500, (change, response.text)
        assert field in response.text, (change, response.text)
    partial = {k: v for k, v in record.items() if k != number}
    missing = httpx.post(f"{source_server.url}/predict_features", json={"records": [partial]})
    assert 400 <= missing.status_code < 500 and number in missing.text
    assert httpx.get(f"{source_server.url}/readyz").status_code == 200


def test_source_bento_names_its_source_and_carries_only_its_code(
    source_stack: SourceStack, outside_dir: Path
) -> None:
    from tasks.deploy.build import SERVICE, SERVICE_NAME

    assert source_stack.tag.startswith(f"{SERVICE_NAME}:{MODEL}-v{source_stack.version}-")
    info = yaml.safe_load((source_stack.bento / "bento.yaml").read_text())
    assert info["labels"]["source"] == "telco" and info["labels"]["model_name"] == MODEL
    assert info["service"] == SERVICE  # the one service class, as for a built-in model
    modules = modules_loaded_by_bento(source_stack.tag, source_stack.env, outside_dir)
    assert "bentos.service" in modules and "tasks.features.lookup" in modules
    assert not any(m.startswith("tasks.declared") for m in modules)  # no spec machinery
    src = (source_stack.bento / "src").resolve()
    assert {m: f for m, f in modules.items() if f and src not in Path(f).resolve().parents} == {}


def test_deploy_cli_builds_the_named_models_champion(
    source_stack: SourceStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from tasks.deploy.__main__ import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(source_stack.home))
        mp.delenv("CHURN_DATABASE_URL", raising=False)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        assert main(["build", "--model-name", MODEL]) == 0
        assert get_settings().model_name == "churn-model"  # no process-wide name was changed
        err = capsys.readouterr().err
        assert main(["build", "--model-name", "churn-nobody"]) == 1
        missing = " ".join(capsys.readouterr().err.split())
    get_settings.cache_clear()
    assert f"reused bento {source_stack.tag}" in " ".join(err.split()), err
    assert f"--model-name {MODEL}" in err
    assert "python -m tasks.deploy: 'churn-nobody' has no 'champion' version" in missing, missing
    assert "make declare" in missing


def test_source_run_logs_the_reference_and_its_profile_over_the_source_features(
    source_stack: SourceStack,
) -> None:
    from mlflow import MlflowClient

    from core.names import REFERENCE_ARTIFACT, SOURCE_DTYPES_ARTIFACT
    from tasks.monitoring.reference import PROFILE_ARTIFACT

    uri = source_stack.tracking_uri
    run_id = MlflowClient(uri, uri).get_model_version(MODEL, source_stack.version).run_id
    mlflow.set_tracking_uri(uri)
    dtypes = mlflow.artifacts.load_dict(f"runs:/{run_id}/{SOURCE_DTYPES_ARTIFACT}")
    profile = mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    assert set(profile["columns"]) == {*dtypes, "score"}  # the source's features, not built-in
    categorical = {n for n, d in dtypes.items() if d == "category"}
    assert categorical and all(profile["columns"][n]["kind"] == "categorical" for n in categorical)
    reference = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{REFERENCE_ARTIFACT}")
    assert Path(reference).stat().st_size > 0


def test_served_predictions_are_logged_by_model_and_monitored(
    source_stack: SourceStack, source_server: Server
) -> None:
    """The bento logs every prediction under its baked model's name; ``monitor`` for that model
    reads exactly those (on its champion's definitions), and reports performance as not available
    for a snapshot source instead of inventing a number."""
    import time

    from flows.monitor import monitor

    ids = list(_online(source_stack, 40))
    what_if = list(_online(source_stack, 2).values())
    asked = httpx.post(f"{source_server.url}/predict_features", json={"records": what_if})
    assert asked.status_code == 200, asked.text
    response = httpx.post(f"{source_server.url}/predict", json={"customer_ids": ids}, timeout=30)
    assert response.status_code == 200, response.text
    t = prediction_log.c
    engine = make_engine(source_stack.database_url)
    deadline = time.monotonic() + 30
    while True:  # the writer thread flushes every 0.2 s
        with engine.connect() as conn:
            logged = conn.execute(
                select(t.model_name, t.customer_id, t.model_version).where(
                    t.request_id == response.json()["request_id"]
                )
            ).all()
        if len(logged) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(t.kind, func.count()).group_by(t.kind)).all())
        served = conn.execute(select(t.model_name, t.customer_id).where(t.kind != "what_if")).all()
    engine.dispose()
    # /predict_features calls are logged as what-ifs, and monitoring leaves them out
    assert kinds["what_if"] >= len(what_if) and kinds["predict"] == len(served)
    assert {(r.model_name, r.model_version) for r in logged} == {(MODEL, source_stack.version)}
    assert sorted(r.customer_id for r in logged) == sorted(ids)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(source_stack.home))
        mp.delenv("CHURN_DATABASE_URL", raising=False)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        # the 24 hours up to now (not the UTC day, which may have turned since the traffic)
        end = utc_now() + timedelta(minutes=1)
        out = monitor(model_name=MODEL, reports=False, window_end=end)
    get_settings.cache_clear()
    assert out["model_name"] == MODEL and out["model_version"] == source_stack.version
    # every prediction this bento served (this test's and the earlier ones'), nothing else
    assert out["observed"] == {"source": "prediction_log", "rows": len(served)}
    assert {r.model_name for r in served} == {MODEL}
    assert out["performance"] == {}
    assert "snapshot source has no delayed labels" in out["performance_unavailable"]


@pytest.mark.system
def test_rollout_serves_a_declared_model_under_its_prefix(
    source_stack: SourceStack, outside_dir: Path, tmp_path: Path
) -> None:
    """The rollout follower serves ``churn-telco`` at ``/churn-telco/`` of the public port from
    its first champion on (a model that appears adds its route to the running proxy), and follows
    its alias to another version."""
    from mlflow import MlflowClient

    from core.names import CHAMPION
    from tests.serving.conftest import free_port
    from tests.serving.rollout import follower_process, until_served

    client = MlflowClient(tracking_uri=source_stack.tracking_uri)
    source = client.get_model_version(MODEL, source_stack.version)
    other = client.create_model_version(  # another version of the same run: another bento
        MODEL, str(source.source), run_id=source.run_id, tags=dict(source.tags)
    ).version
    customer = next(iter(_online(source_stack, 1)))
    port = free_port()
    url = f"http://127.0.0.1:{port}/{MODEL}"
    client.delete_registered_model_alias(MODEL, CHAMPION)  # nothing served when it starts
    try:
        with follower_process(port, source_stack.env, outside_dir, tmp_path / "rollout.log"):
            time.sleep(3)
            client.set_registered_model_alias(MODEL, CHAMPION, source_stack.version)
            until_served(url, customer, source_stack.version, 180)
            client.set_registered_model_alias(MODEL, CHAMPION, str(other))
            until_served(url, customer, str(other), 180)
    finally:
        client.set_registered_model_alias(MODEL, CHAMPION, source_stack.version)
    log = (tmp_path / "rollout.log").read_text()
    assert f"{MODEL}: v{source_stack.version} → v{other}" in log, log[-3000:]
