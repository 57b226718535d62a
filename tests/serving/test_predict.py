"""The served bento over HTTP: scores equal the registry model's, by id equals by features,
rollback + rebuild serves the previous version, probes and metrics answer."""

from __future__ import annotations

import json

import httpx
import mlflow
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from core.db import make_engine
from core.tables import online_features
from models.risk import risk_band
from tasks.features import get_online_features
from tests.serving.conftest import Server, Stack


def _store(stack: Stack, n: int = 40) -> dict[str, dict[str, object]]:
    """``n`` customers' online feature documents, by id."""
    engine = make_engine(stack.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(online_features.c.customer_id, online_features.c.features)
            .order_by(online_features.c.customer_id)
            .limit(n)
        ).all()
    engine.dispose()
    return {r.customer_id: json.loads(r.features) for r in rows}


def _registry_model(stack: Stack, version: str) -> mlflow.pyfunc.PyFuncModel:
    mlflow.set_tracking_uri(stack.tracking_uri)
    mlflow.set_registry_uri(stack.tracking_uri)
    return mlflow.pyfunc.load_model(f"models:/churn-model/{version}")


def test_rollback_then_rebuild_serves_the_previous_version(
    serving_stack: Stack, server: Server
) -> None:
    assert (serving_stack.first["model_version"], serving_stack.second["model_version"]) == (
        "1",
        "2",
    )
    assert str(serving_stack.second["bento"]).startswith("churn-service:model-v2-")
    # the rebuild after the rollback reuses v1's bento, built by the first train flow
    assert serving_stack.tag == serving_stack.first["bento"]
    (cid,) = list(_store(serving_stack, 1))
    body = httpx.post(f"{server.url}/predict", json={"customer_ids": [cid]}).json()
    assert body["model_version"] == "1"
    assert body["predictions"][0]["model_version"] == "1"


def test_scores_equal_the_registry_models_scores(serving_stack: Stack, server: Server) -> None:
    docs = _store(serving_stack)
    ids = list(docs)
    response = httpx.post(f"{server.url}/predict", json={"customer_ids": ids}, timeout=30)
    assert response.status_code == 200
    served = [p["probability"] for p in response.json()["predictions"]]

    model = _registry_model(serving_stack, "1")
    engine = make_engine(serving_stack.database_url)
    online = get_online_features(ids, engine=engine)  # the store's rows, typed as in training
    engine.dispose()
    assert online.frame["customer_id"].tolist() == ids
    frame = online.frame.drop(columns="customer_id")
    expected = model.predict(frame)["score"].to_numpy()
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-6)
    # reasons: the model's own top-3 explanations, same order
    explained = model.unwrap_python_model().explain(frame, top_k=3)
    for item, reasons in zip(response.json()["predictions"], explained, strict=True):
        assert [r["feature"] for r in item["reasons"]] == [c.feature for c in reasons]
        np.testing.assert_allclose(
            [r["contribution"] for r in item["reasons"]],
            [c.contribution for c in reasons],
            atol=1e-5,
        )
        assert item["risk_band"] == risk_band(item["probability"])


def test_predict_by_id_equals_predict_features_with_the_stores_features(
    serving_stack: Stack, server: Server
) -> None:
    docs = _store(serving_stack, 25)
    by_id = httpx.post(f"{server.url}/predict", json={"customer_ids": list(docs)}).json()
    by_features = httpx.post(
        f"{server.url}/predict_features", json={"records": list(docs.values())}
    ).json()
    for a, b in zip(by_id["predictions"], by_features["predictions"], strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-12)
        assert a["reasons"] == b["reasons"]
        assert a["as_of"] is not None and b["as_of"] is None


def test_unknown_ids_are_reported_per_item(serving_stack: Stack, server: Server) -> None:
    (cid,) = list(_store(serving_stack, 1))
    body = httpx.post(
        f"{server.url}/predict", json={"customer_ids": ["nobody", cid, "nobody-else"]}
    ).json()
    errors = [p["error"] for p in body["predictions"]]
    assert errors == ["unknown customer", None, "unknown customer"]
    assert [p["customer_id"] for p in body["predictions"]] == ["nobody", cid, "nobody-else"]
    assert body["predictions"][1]["probability"] is not None


def test_probes_and_custom_metrics(server: Server) -> None:
    assert httpx.get(f"{server.url}/livez").status_code == 200
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    httpx.post(f"{server.url}/predict", json={"customer_ids": ["nobody"]})
    httpx.post(f"{server.url}/predict", json={"customer_ids": []})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text)
        for s in family.samples
    }
    names = {name for name, _ in samples}

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("churn_model_info", model_version="1", definitions_hash=_hash(samples)) == 1
    assert value("churn_requests_total", endpoint="/predict", status="400", model_version="1") >= 1
    assert value("churn_unknown_customers_total", model_version="1") >= 1
    assert value("churn_request_latency_seconds_count", endpoint="/predict") >= 2
    assert value("churn_prediction_log_dropped_total") == 0
    assert "churn_score_bucket" in names


def _hash(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> str:
    (digest,) = {
        dict(labels)["definitions_hash"] for name, labels in samples if name == "churn_model_info"
    }
    return digest


def test_backfilled_rows_replay_into_predict_features(
    serving_stack: Stack, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logged features document is what /predict_features takes: backfilled counts used to be
    logged as floats (3.0), which the strict record refuses."""
    from core.settings import get_settings
    from core.tables import prediction_log
    from tasks.modeldata.base import model_data
    from tasks.monitoring.backfill import backfill_predictions, load_champion_model

    monkeypatch.setenv("CHURN_HOME", str(serving_stack.home))
    monkeypatch.delenv("CHURN_DATABASE_URL", raising=False)
    monkeypatch.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    try:
        engine = make_engine(serving_stack.database_url)
        data = model_data("churn-model", engine=engine)
        cutoff = data.cutoffs(engine=engine, horizon_days=data.horizon_days)[-1:]
        model = load_champion_model("churn-model")
        assert backfill_predictions(
            cutoff, model=model, model_version="1", data=data, horizon_days=30, engine=engine
        )
        with engine.connect() as conn:
            logged = conn.execute(
                select(prediction_log.c.features, prediction_log.c.score)
                .where(prediction_log.c.kind == "backfill")
                .order_by(prediction_log.c.customer_id)
                .limit(50)
            ).all()
        engine.dispose()
    finally:
        get_settings.cache_clear()
    records = [json.loads(r.features) for r in logged]
    assert any(isinstance(r["tickets_90d"], int) and r["tickets_90d"] > 0 for r in records)
    replayed = httpx.post(f"{server.url}/predict_features", json={"records": records})
    assert replayed.status_code == 200, replayed.text
    scores = [p["probability"] for p in replayed.json()["predictions"]]
    assert scores == pytest.approx([r.score for r in logged], abs=1e-6)  # float32 inputs


def test_predict_features_refuses_what_the_contracts_would_quarantine(
    serving_stack: Stack, server: Server
) -> None:
    """A negative tenure or a satisfaction mean of 7 cannot come out of the sources: a 400
    naming the field, as for any other bad value."""
    (record,) = list(_store(serving_stack, 1).values())
    for field, bad in (("tenure_days", -3.0), ("mean_satisfaction_90d", 7.0)):
        response = httpx.post(
            f"{server.url}/predict_features", json={"records": [{**record, field: bad}]}
        )
        assert response.status_code == 400, response.text
        assert field in response.text


def test_a_slow_client_gets_408_not_504(server: Server) -> None:
    """A body that stops arriving is the client's fault: 408 after the body timeout, and the
    connection closed (BentoML's own request timeout answered 504 after 30 s)."""
    import socket
    import time
    from urllib.parse import urlsplit

    from tests.serving.conftest import BODY_TIMEOUT_S

    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        head = (
            "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Content-Length: 200\r\n\r\n"
        )
        started = time.monotonic()
        sock.sendall(head.encode() + b'{"customer_ids": ["')  # and nothing more
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        waited = time.monotonic() - started
    status_line, _, rest = answer.decode().partition("\r\n")
    assert status_line.split()[1] == "408", answer
    assert "did not arrive within" in rest
    assert BODY_TIMEOUT_S <= waited < BODY_TIMEOUT_S + 10
