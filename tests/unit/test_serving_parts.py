"""The serving pieces without a server: numpy scoring = the training preprocessing, the bounded
prediction-log writer, the request schema, and the names the build and the service share."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from pydantic import ValidationError
from sqlalchemy import func, select

from bentos.baked import BAKED_FILE
from bentos.prediction_log import PredictionLogWriter
from bentos.schemas import PredictFeaturesRequest
from bentos.scoring import Scorer
from core.db import make_engine, upgrade_database
from core.tables import prediction_log
from models.estimator import predict_scores
from models.explain import explain_predictions
from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.deploy import build

SPEC = FeatureSpec(
    names=("plan", "spend", "tickets"),
    categories={"plan": ("basic", "standard", "premium")},
    definitions_hash="h",
)


def _booster() -> xgb.Booster:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "standard", "premium"], n),
            "spend": rng.normal(50, 20, n),
            "tickets": rng.integers(0, 5, n).astype(float),
        }
    )
    y = ((frame.plan == "basic") & (frame.tickets > 2)).astype(int).to_numpy()
    matrix = to_model_matrix(frame, spec=SPEC)
    dtrain = xgb.DMatrix(matrix, y, enable_categorical=True)
    params = {"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1}
    return xgb.train(params, dtrain, 20)


def test_scorer_equals_the_training_preprocessing_and_explanations() -> None:
    booster = _booster()
    rows = [
        {"plan": "basic", "spend": 12.5, "tickets": 3},
        {"plan": "gold", "spend": None, "tickets": 0},  # unseen category and a null → missing
        {"plan": "premium", "spend": 80.0, "tickets": None},
    ]
    scorer = Scorer(booster, SPEC)
    scored = scorer.score(scorer.matrix(rows), top_k=2)
    matrix = to_model_matrix(pd.DataFrame(rows), spec=SPEC)
    # the probability is the sigmoid of the SHAP sum (one tree pass): equal to predict to 1e-6
    np.testing.assert_allclose(
        scored.probabilities, predict_scores(booster, matrix), rtol=0, atol=1e-6
    )
    expected = explain_predictions(booster, matrix, top_k=2)
    assert [[f for f, _ in r] for r in scored.reasons] == [[c.feature for c in r] for r in expected]


def test_scorer_refuses_a_spec_that_is_not_the_boosters() -> None:
    booster = _booster()
    with pytest.raises(ValueError, match="do not belong together"):
        Scorer(booster, FeatureSpec(names=("spend", "plan", "tickets"), categories=SPEC.categories))


def _row(i: int) -> dict[str, object]:
    return {
        "request_id": f"r{i}",
        "customer_id": f"C{i}",
        "features": {"x": i},
        "score": 0.5,
        "model_version": "1",
        "definitions_hash": "h",
        "predicted_at": datetime(2024, 1, 1),
        "as_of": datetime(2024, 1, 1),
    }


def test_prediction_log_drops_and_counts_when_full_and_flushes_on_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    dropped: list[int] = []
    writer = PredictionLogWriter(
        engine, model_name="churn-x", max_queue=5, flush_interval_s=30, on_drop=dropped.append
    )  # the thread sleeps: nothing is written before close()
    assert writer.submit([_row(i) for i in range(3)]) == 0
    with caplog.at_level(logging.WARNING, logger="bentos.prediction_log"):
        assert writer.submit([_row(i) for i in range(3, 7)]) == 2  # room for 2 of 4
    assert dropped == [2] and writer.depth() == 5
    assert "prediction log queue full" in caplog.text and "dropped 2" in caplog.text
    writer.close()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(prediction_log)).scalar_one() == 5
        assert conn.execute(select(prediction_log.c.features)).scalars().first() == '{"x": 0}'
        names = conn.execute(select(prediction_log.c.model_name).distinct()).scalars().all()
        assert names == ["churn-x"]  # every row says which model served it
    engine.dispose()


def test_feature_record_schema_names_the_bad_field() -> None:
    with pytest.raises(ValidationError) as err:
        PredictFeaturesRequest.model_validate({"records": [{"plan": "basic"}]})
    assert "tenure_days" in str(err.value)


def test_build_and_service_share_their_names() -> None:
    assert build.PROJECT_DIR / build.BAKED_FILE == BAKED_FILE
    assert not any(f.startswith(("flows/", "simulator/")) for f in build.collect_sources())


def test_readiness_refuses_other_feature_definitions(tmp_path: Path) -> None:
    from bentos.readiness import Readiness
    from core.tables import online_features
    from tasks.features.lookup import OnlineView, builtin_view

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    view = builtin_view()
    other = OnlineView(view.name, view.dtypes, "another-hash")
    assert not Readiness(engine, other, ttl_s=0).check()  # model vs this code
    ready = Readiness(engine, view, ttl_s=0)
    assert not ready.check() and "no rows of view 'crm+billing+helpdesk'" in str(ready.problem)
    row = {"view": view.name, "customer_id": "C1", "as_of": datetime(2024, 1, 1)}
    with engine.begin() as conn:
        conn.execute(
            online_features.insert(),
            [{**row, "features": "{}", "definitions_hash": "old", "materialized_at": row["as_of"]}],
        )
    assert not ready.check() and "rematerialize" in str(ready.problem)
    with engine.begin() as conn:
        conn.execute(online_features.update().values(definitions_hash=view.definitions_hash))
    assert ready.check() and ready.problem is None
    engine.dispose()


def test_readiness_of_a_declared_source_checks_that_sources_rows(tmp_path: Path) -> None:
    from bentos.readiness import Readiness
    from core.tables import online_features
    from tasks.features.lookup import OnlineView

    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    # a source's hash is not this code's built-in hash: only the store is compared
    ready = Readiness(engine, OnlineView("telco", {}, "telco-hash"), ttl_s=0)
    assert not ready.check() and "no rows of view 'telco'" in str(ready.problem)
    row = {"as_of": datetime(2024, 1, 1), "features": "{}", "materialized_at": datetime(2024, 1, 1)}
    with engine.begin() as conn:
        conn.execute(
            online_features.insert(),
            [
                {**row, "view": "shop", "customer_id": "C1", "definitions_hash": "telco-hash"},
                {**row, "view": "telco", "customer_id": "C1", "definitions_hash": "old"},
            ],
        )
    assert not ready.check() and "make declare" in str(ready.problem)
    with engine.begin() as conn:
        conn.execute(
            online_features.update()
            .where(online_features.c.view == "telco")
            .values(definitions_hash="telco-hash")
        )
    assert ready.check() and ready.problem is None
    engine.dispose()


def test_source_feature_record_is_strict_and_names_the_field() -> None:
    from bentos.schemas import feature_record_model, features_request_model

    record = feature_record_model(
        {"plan": "category", "visits_count_30d": "int", "spend": "float"},
        {"plan": ("basic", "premium")},
        name="ShopRecord",
    )
    request = features_request_model(record, name="ShopRequest")
    good = {"plan": "basic", "visits_count_30d": 3, "spend": None}
    assert request.model_validate({"records": [good]})
    for change, field in [
        ({"colour": "blue"}, "colour"),
        ({"plan": "gold"}, "plan"),
        ({"visits_count_30d": 1.5}, "visits_count_30d"),
        ({"spend": "12"}, "spend"),
    ]:
        with pytest.raises(ValidationError) as err:
            request.model_validate({"records": [good, {**good, **change}]})
        assert field in str(err.value)
    with pytest.raises(ValidationError, match="records"):
        request.model_validate({"records": []})
