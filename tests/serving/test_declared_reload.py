"""A reload that changes a declared source's definitions (a new category value) never pulls the
online store from under the served champion: ``make declare`` writes the store after the gate.
Rejected (a ``min_auc`` floor the candidate cannot reach), the running champion's API keeps
answering from its own rows; promoted, the new champion's bento answers from rows of its own
definitions. Real Prefect server, MLflow store, warehouse and ``bentoml serve``; 400 rows."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.db import make_engine
from core.settings import get_settings
from core.tables import online_features
from tests.declared.files import NOT_THE_BASELINE, TELCO_SPEC, write_spec, write_telco
from tests.serving.conftest import Server, start_server, stop_server

MODEL = "churn-telco"


def _online_hashes() -> dict[str, str]:
    """customer_id → definitions hash of the source's online rows."""
    t = online_features.c
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(t.customer_id, t.definitions_hash).where(t.view == "telco"))
        found = {r.customer_id: r.definitions_hash for r in rows}
    engine.dispose()
    return found


def _serve_champion(outside: Path) -> Server:
    from tasks.deploy import build_bento, champion_version, serve_env

    tag = build_bento(champion_version(MODEL), model_name=MODEL).tag
    return start_server(tag, serve_env(), outside)


def _predict(server: Server, ids: list[str]) -> dict[str, float]:
    """Probability by id; asserts a 200 answer for every known id."""
    response = httpx.post(f"{server.url}/predict", json={"customer_ids": ids}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert all(p["error"] is None for p in predictions), predictions
    return {p["customer_id"]: p["probability"] for p in predictions}


@pytest.mark.system
def test_table_reload_with_new_definitions_keeps_the_champion_served(
    tmp_path: Path, churn_home: Path, prefect_server: str, outside_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from flows.declare import declare

    monkeypatch.delenv("CHURN_DATABASE_URL", raising=False)
    monkeypatch.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    frame = write_telco(tmp_path, rows=400, signal=1.6)
    spec = str(write_spec(tmp_path, TELCO_SPEC))
    first = declare(spec=spec, min_auc=0.6, min_baseline_gain=NOT_THE_BASELINE)
    assert (first["decision"], first["online_rows"]) == ("promoted", len(_online_hashes()))
    served = _serve_champion(outside_dir)
    try:
        ids = sorted(_online_hashes())[:5]
        before = _predict(served, ids)
        # the same snapshot reloaded with a value never seen: other categories, other definitions
        frame.loc[frame.index % 8 == 0, "PaymentMethod"] = "Crypto wallet"
        frame.to_csv(tmp_path / "telco.csv", index=False)

        # (a) rejected by the floor, whatever the champion comparison: the store stays the
        # champion's and its API answers as before
        rejected = declare(spec=spec, min_auc=0.999)
        assert rejected["decision"] == "rejected", rejected
        assert rejected["definitions_hash"] != first["definitions_hash"]
        assert _predict(served, ids) == before
        assert httpx.get(f"{served.url}/readyz").status_code == 200
        assert set(_online_hashes().values()) == {first["definitions_hash"]}
        assert (rejected["online_rows"], rejected["online_as_of"]) == (None, None)
        assert str(rejected["online_store"]).startswith(f"kept for champion v{first['version']}")
        # monitoring and batch scores read the champion's definitions (the contract its run
        # kept), not the rejected load's: they used to fail with StaleFeaturesError
        from flows.monitor import monitor
        from flows.score_batch import score_batch

        monitored = monitor(model_name=MODEL, reports=False)
        assert monitored["model_version"] == first["version"], monitored
        assert monitored["observed"]["rows"] > 0
        scored = score_batch(model_name=MODEL)
        assert scored["model_version"] == first["version"] and scored["rows"] > 0, scored
    finally:
        stop_server(served)

    # (b) promoted: the store moves to the new champion's definitions, which its bento reads
    # (other definitions: the first-model test, which this test is not about)
    promoted = declare(spec=spec, min_auc=0.501, min_baseline_gain=NOT_THE_BASELINE)
    assert promoted["decision"] == "promoted", promoted
    assert promoted["definitions_hash"] == rejected["definitions_hash"]
    assert promoted["online_as_of"] == "2024-06-30T00:00:00"
    hashes = _online_hashes()
    assert promoted["online_rows"] == len(hashes) > 0
    assert set(hashes.values()) == {promoted["definitions_hash"]}
    served = _serve_champion(outside_dir)
    try:
        response = httpx.post(f"{served.url}/predict", json={"customer_ids": ids}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == promoted["version"]
        assert len(_predict(served, ids)) == len(ids)
    finally:
        stop_server(served)
