"""Churn definitions: the built-in sources under two horizons are two registered models that
share every feature view — one definitions hash, one materialization serving both — and each
model's purge gaps follow its own horizon. Real Prefect server, warehouse and MLflow store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from core.db import make_engine
from core.settings import get_settings
from core.tables import online_features
from tasks.definitions import UnknownModelError, get_definition
from tasks.features import data_watermark, lookup_online_rows, materialize
from tasks.features.lookup import builtin_view
from tests.model.pipeline import build_warehouse


def test_builtin_definitions_share_their_views() -> None:
    short, long = get_definition("churn-model"), get_definition("churn-model-90d")
    assert (short.horizon_days, long.horizon_days) == (get_settings().horizon_days, 90)
    assert all(a is b for a, b in zip(short.views, long.views, strict=True))
    assert short.definitions_hash == long.definitions_hash  # the label rule is not a feature
    assert [v.name for v in short.views] == ["crm", "billing", "helpdesk"]
    # one key of the online store, the one the built-in materialization writes
    assert short.online_view == long.online_view == builtin_view()
    assert {s.kind for s in short.sources} == {"attributes", "events", "records", "lifecycle"}
    with pytest.raises(UnknownModelError, match="built-in: churn-model, churn-model-90d"):
        get_definition("churn-nope")


@pytest.fixture(scope="module")
def year_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_warehouse(tmp_path_factory.mktemp("year"), customers=500, months=13, seed=5)


def test_the_yaml_definition_computes_the_catalogs_values(year_warehouse: str) -> None:
    """definitions/simulator.yaml, written out in full, gives the catalog's feature values on a
    sample of labelled rows of a simulated, ingested warehouse."""
    import pandas as pd

    from tasks.features.retrieval import get_historical_features
    from tasks.labels import available_cutoffs, build_labels

    engine = make_engine(year_warehouse)
    try:
        cutoffs = available_cutoffs(engine=engine, horizon_days=30)
        rows = build_labels(cutoffs, 30, engine=engine).sample(n=400, random_state=3)
        catalog = get_historical_features(
            rows, engine=engine, features=get_definition("churn-model").features
        )
        declared = get_historical_features(
            rows, engine=engine, features=get_definition("churn-sim").features
        )
    finally:
        engine.dispose()
    assert len(cutoffs) >= 6 and catalog["spend_90d"].notna().mean() > 0.5  # real values
    pd.testing.assert_frame_equal(catalog, declared)


@pytest.mark.system
def test_two_definitions_over_shared_views_train_apart_and_serve_from_one_store(
    prefect_server: str,
    year_warehouse: str,
    churn_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.train import train

    monkeypatch.setenv("CHURN_DATABASE_URL", year_warehouse)
    get_settings.cache_clear()
    short = train(model_name="churn-model", min_auc=0.51, max_cutoffs=None)
    long = train(model_name="churn-model-90d", min_auc=0.51, max_cutoffs=None)
    assert (short["model_name"], short["model_version"]) == ("churn-model", "1")
    assert (long["model_name"], long["model_version"]) == ("churn-model-90d", "1")

    client = MlflowClient(tracking_uri=get_settings().mlflow_tracking_uri)
    tags = {
        name: client.get_model_version(name, "1").tags
        for name in ("churn-model", "churn-model-90d")
    }
    assert tags["churn-model"]["horizon_days"] == "30"
    assert tags["churn-model-90d"]["horizon_days"] == "90"
    # the purge gaps come from each definition's own horizon
    cutoffs = long["cutoffs"]
    train_last = max(datetime.fromisoformat(c) for c in cutoffs["cutoffs.train"].split(","))
    valid = [datetime.fromisoformat(c) for c in cutoffs["cutoffs.validation"].split(",")]
    holdout = datetime.fromisoformat(cutoffs["cutoffs.holdout"])
    assert min(valid) - train_last >= timedelta(days=90)
    assert holdout - max(valid) >= timedelta(days=90)
    hashes = {t["features.definitions_hash"] for t in tags.values()}
    assert hashes == {get_definition().definitions_hash}

    # one materialization: one row per customer, read by both models' lookups
    engine = make_engine(year_warehouse)
    try:
        watermark = data_watermark(engine=engine)
        assert watermark is not None
        result = materialize(watermark, engine=engine)
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(online_features)).scalar_one()
            some = list(conn.execute(select(online_features.c.customer_id).limit(5)).scalars())
        assert rows == result.rows and result.definitions_hash in hashes
        # the lookup refuses rows of other definitions than the model's: both models pass
        for name in ("churn-model", "churn-model-90d"):
            found = lookup_online_rows(some, engine=engine, view=get_definition(name).online_view)
            assert set(found) == set(some)
    finally:
        engine.dispose()
