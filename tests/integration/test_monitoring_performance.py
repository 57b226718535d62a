"""Delayed-label performance on a hand-made warehouse: only predictions whose horizon elapsed,
judged from the features' time (coalesce(as_of, predicted_at)), on each backend."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from core.tables import customers, prediction_log
from tasks.definitions import get_definition
from tasks.modeldata.builtin import BuiltinData
from tasks.monitoring.data import load_predictions
from tasks.monitoring.performance import label_predictions, performance_metrics

BUILTIN = BuiltinData(get_definition("churn-model"))

AS_OF = datetime(2024, 3, 1)
NOW = datetime(2024, 5, 1)
# customer: (cancel_date, score, as_of of its prediction; None = only predicted_at is set)
CASES: dict[str, tuple[date | None, float, datetime | None]] = {
    "C1": (date(2024, 3, 10), 0.90, AS_OF),  # cancels inside the horizon: 1
    "C2": (None, 0.20, AS_OF),  # stays: 0
    "C3": (date(2024, 5, 1), 0.10, AS_OF),  # cancels after the horizon: 0
    "C4": (date(2024, 2, 15), 0.50, AS_OF),  # already gone at as_of: no label
    "C5": (None, 0.70, datetime(2024, 4, 20)),  # horizon not elapsed by NOW: left out
    "C6": (None, 0.05, None),  # as_of NULL: judged from predicted_at = AS_OF: 0
    "C7": (date(2024, 3, 20), 0.15, AS_OF),  # 1
}


@pytest.fixture
def warehouse(engine: Engine) -> Engine:
    crm, logged = [], []
    for cid, (cancel, score, as_of) in CASES.items():
        crm.append(
            {
                "customer_id": cid,
                "signup_date": date(2023, 6, 1),
                "plan": "basic",
                "contract": "month-to-month",
                "payment_method": "credit_card",
                "region": "north",
                "monthly_charges": 30.0,
                "status": "cancelled" if cancel else "active",
                "cancel_date": cancel,
                "valid_from": datetime(2023, 6, 1),
                "valid_to": None,
                "attrs_hash": cid,
                "run_id": "r",
            }
        )
        logged.append(
            {
                "request_id": f"req-{cid}",
                "customer_id": cid,
                "features": json.dumps({"monthly_charges": 30.0, "plan": "basic"}),
                "score": score,
                "model_version": "1",
                "predicted_at": as_of or AS_OF,
                "as_of": as_of,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(customers), crm)
        conn.execute(insert(prediction_log), logged)
    return engine


def _load(engine: Engine, **filters: str) -> pd.DataFrame:
    return load_predictions(
        engine=engine, model_name=filters.pop("model_name", "churn-model"), dtypes=BUILTIN.dtypes,
        **filters,
    )  # fmt: skip


def _label(predictions: pd.DataFrame, engine: Engine, *, now: datetime) -> pd.DataFrame:
    return label_predictions(predictions, data=BUILTIN, engine=engine, horizon_days=30, now=now)


def test_label_predictions_only_elapsed_and_active(warehouse: Engine) -> None:
    predictions = _load(warehouse)
    assert len(predictions) == len(CASES)
    labelled = _label(predictions, warehouse, now=NOW)
    got = dict(zip(labelled["customer_id"], labelled["label"], strict=True))
    assert got == {"C1": 1, "C2": 0, "C3": 0, "C6": 0, "C7": 1}


def test_performance_metrics_on_hand_made_case(warehouse: Engine) -> None:
    labelled = _label(_load(warehouse), warehouse, now=NOW)
    metrics = performance_metrics(labelled)
    # positives 0.90, 0.15 vs negatives 0.20, 0.10, 0.05: 5 of 6 pairs ordered right
    assert metrics["performance.roc_auc"] == pytest.approx(5 / 6)
    # riskiest 10% of 5 = 1 prediction (C1, a churner): precision 1, capture 1 of 2
    assert metrics["performance.precision_at_10pct"] == 1.0
    assert metrics["performance.capture_rate_at_10pct"] == 0.5
    assert metrics["performance.labelled"] == 5


def test_performance_metrics_empty_before_any_label(warehouse: Engine) -> None:
    early = _label(_load(warehouse), warehouse, now=AS_OF)
    assert early.empty
    assert performance_metrics(early) == {}


def test_predictions_of_other_models_and_definitions_are_left_out(warehouse: Engine) -> None:
    """A declared source's churn-<name> service logs into the same table under its own name;
    a model retrained on other definitions leaves its predecessor's rows behind. Monitoring of a
    model reads only its own rows made on its champion's definitions (and unhashed ones)."""
    with warehouse.begin() as conn:
        conn.execute(
            insert(prediction_log),
            [
                {
                    "request_id": f"{name}-{hash_}-C1",
                    "customer_id": "C1",
                    "features": json.dumps({"tenure": 3}),
                    "score": 0.5,
                    "model_version": "1",
                    "model_name": name,
                    "definitions_hash": hash_,
                    "predicted_at": AS_OF,
                    "as_of": AS_OF,
                }
                for name, hash_ in [
                    ("churn-model", "ours"),
                    ("churn-model", "older"),
                    ("churn-telco", "ours"),
                ]
            ],
        )
    assert len(_load(warehouse)) == len(CASES) + 2  # rows before migration 0010: churn-model
    ours = _load(warehouse, definitions_hash="ours")
    assert len(ours) == len(CASES) + 1  # the unhashed rows and ours
    assert set(ours["request_id"]) - {f"req-{c}" for c in CASES} == {"churn-model-ours-C1"}
    telco = _load(warehouse, model_name="churn-telco", definitions_hash="ours")
    assert list(telco["request_id"]) == ["churn-telco-ours-C1"]


def test_what_if_calls_are_not_traffic(warehouse: Engine) -> None:
    """1,003 what-if records moved the drift share from 0.05 to 0.51 when they counted as served
    traffic: monitoring reads only predictions by id and the backfill (prediction_log.kind)."""
    record = {"features": json.dumps({"monthly_charges": 999.0}), "score": 0.99}
    rows = [
        {**record, "request_id": f"what-if-{i}", "customer_id": None, "kind": "what_if"}
        for i in range(1003)
    ]
    backfill = {"request_id": "backfill-20240301-C9", "customer_id": "C9", "kind": "backfill"}
    rows.append({**record, **backfill})
    stamp = {"model_version": "1", "predicted_at": AS_OF, "as_of": AS_OF}
    with warehouse.begin() as conn:
        conn.execute(insert(prediction_log), [{**r, **stamp} for r in rows])
    loaded = _load(warehouse)
    assert len(loaded) == len(CASES) + 1
    assert not loaded["request_id"].str.startswith("what-if").any()
    assert "backfill-20240301-C9" in set(loaded["request_id"])
