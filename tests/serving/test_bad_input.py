"""Bad input gets a 4xx naming the field, never a 5xx, and the server stays up: hand-written
cases plus schemathesis (valid and invalid data) against the service's own OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, not_a_server_error
from sqlalchemy import select

from bentos.schemas import MAX_BATCH
from core.db import make_engine
from core.tables import online_features
from tests.serving.conftest import Server, Stack


@pytest.fixture(scope="module")
def record(serving_stack: Stack) -> dict[str, Any]:
    """One valid feature record (a customer's row of the online store)."""
    engine = make_engine(serving_stack.database_url)
    with engine.connect() as conn:
        document = conn.execute(select(online_features.c.features).limit(1)).scalar_one()
    engine.dispose()
    return dict(json.loads(document))


def _post(server: Server, path: str, content: bytes, content_type: str = "application/json"):
    return httpx.post(
        f"{server.url}{path}", content=content, headers={"content-type": content_type}
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"customer_ids": ["C1"', "JSON"),
        (b"[1, 2]", "object"),
        (b"{}", "customer_ids"),
        (b'{"customer_ids": ["C1"], "limit": 3}', "limit"),
        (b'{"customer_ids": "C1"}', "customer_ids"),
        (b'{"customer_ids": [17]}', "customer_ids"),
        (b'{"customer_ids": [""]}', "customer_ids"),
        (b'{"customer_ids": []}', "customer_ids"),
        (json.dumps({"customer_ids": ["C1"] * (MAX_BATCH + 1)}).encode(), "customer_ids"),
    ],
)
def test_predict_rejects_bad_bodies_naming_the_field(
    server: Server, body: bytes, field: str
) -> None:
    response = _post(server, "/predict", body)
    assert 400 <= response.status_code < 500
    assert field in response.text


@pytest.mark.parametrize(
    ("change", "raw", "field"),
    [
        ({"plan": "gold"}, None, "plan"),  # unknown category
        ({"spend_30d": "12.5"}, None, "spend_30d"),  # number as text
        ({"spend_30d": True}, None, "spend_30d"),
        ({"tickets_30d": 1.5}, None, "tickets_30d"),  # a count must be whole
        ({"tickets_30d": -1}, None, "tickets_30d"),
        ({"region": None}, None, "region"),
        ({"favourite_colour": "blue"}, None, "favourite_colour"),  # extra field
        ({}, ("spend_30d", "NaN"), "spend_30d"),
        ({}, ("spend_30d", "Infinity"), "spend_30d"),
        ({}, ("spend_30d", "-Infinity"), "spend_30d"),
        ({}, ("spend_30d", "1e999"), "spend_30d"),  # overflows to inf
        ({"spend_30d": 1e39}, None, "spend_30d"),  # finite here, infinite as XGBoost's float32
        ({"tickets_30d": 10**23}, None, "tickets_30d"),
    ],
)
def test_predict_features_rejects_bad_records_naming_the_field(
    server: Server,
    record: dict[str, Any],
    change: dict[str, Any],
    raw: tuple[str, str] | None,
    field: str,
) -> None:
    bad = {**record, **change}
    if raw is not None:  # JSON has no NaN/Infinity: splice the literal into the text
        bad[raw[0]] = "__literal__"
    text = json.dumps({"records": [record, bad]})
    if raw is not None:
        text = text.replace('"__literal__"', raw[1])
    response = _post(server, "/predict_features", text.encode())
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


def test_missing_feature_and_empty_or_oversized_batches_are_refused(
    server: Server, record: dict[str, Any]
) -> None:
    partial = {k: v for k, v in record.items() if k != "tenure_days"}
    for body, field in [
        ({"records": [partial]}, "tenure_days"),
        ({"records": []}, "records"),
        ({"records": [record] * (MAX_BATCH + 1)}, "records"),
        ({"rows": [record]}, "records"),
    ]:
        response = _post(server, "/predict_features", json.dumps(body).encode())
        assert 400 <= response.status_code < 500 and field in response.text


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "text/csv"])
def test_non_json_bodies_get_415(server: Server, content_type: str) -> None:
    response = _post(server, "/predict", b"--x\r\ngarbage", content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


def test_server_is_still_up_after_bad_input(server: Server, record: dict[str, Any]) -> None:
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    ok = _post(server, "/predict_features", json.dumps({"records": [record]}).encode())
    assert ok.status_code == 200 and ok.json()["predictions"][0]["probability"] is not None


@pytest.mark.parametrize("path", ["/predict", "/predict_features"])
@pytest.mark.parametrize("mode", [GenerationMode.NEGATIVE, GenerationMode.POSITIVE])
def test_api_never_answers_generated_input_with_a_server_error(
    server: Server, path: str, mode: GenerationMode
) -> None:
    """Schemathesis generates bodies from the service's own OpenAPI document: invalid ones must
    be rejected with a 4xx, none may get a 5xx."""
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    operation = schema[path]["POST"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=server.url, checks=[not_a_server_error, negative_data_rejection]
        )

    check()
