"""get_historical_features: hand-checked point-in-time values, the frame contract (rows, order,
index, dtypes) and its refusals."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from tasks.features.definitions import FEATURES
from tasks.features.store import get_historical_features
from tests.integration.test_features_reference import (
    AS_OF,
    DAY,
    History,
    assert_features_equal,
    reference_frame,
    version,
    write_history,
)


def _history() -> History:
    return History(
        versions=[
            version("C1", AS_OF - 300 * DAY, None, plan="premium"),
            version("C2", AS_OF - 40 * DAY, None, region="west"),
        ],
        txns=[
            {"txn_id": f"t{i}", "customer_id": cid, "txn_type": "charge", "amount": 10.0 * i,
             "occurred_at": AS_OF - i * 7 * DAY}
            for i, cid in enumerate(["C1", "C2", "C1", "C2", "C1"], start=1)
        ],
    )  # fmt: skip


def test_historical_features_keep_rows_order_index_and_extra_columns(engine: Engine) -> None:
    history = _history()
    write_history(engine, history)
    entity = pd.DataFrame(
        {
            "customer_id": ["C2", "C1", "C9", "C2", "C1"],
            "as_of": [AS_OF, AS_OF - 20 * DAY, AS_OF, AS_OF, AS_OF],  # a duplicate row too
            "label": [1, 0, 0, 1, 0],
        },
        index=[50, 40, 30, 20, 10],
    )
    got = get_historical_features(entity, engine=engine)
    assert got.index.tolist() == [50, 40, 30, 20, 10]
    assert got.columns.tolist() == ["customer_id", "as_of", "label", *[f.name for f in FEATURES]]
    pd.testing.assert_frame_equal(got[entity.columns], entity)
    assert_features_equal(got, reference_frame(history, entity))
    for fd in FEATURES:
        assert got[fd.name].dtype == (object if fd.dtype == "category" else np.float64), fd.name
    assert got.loc[30, "plan"] is None and np.isnan(got.loc[30, "monthly_charges"])  # unknown
    assert got.loc[50, "region"] == "west" and got.loc[40, "plan"] == "premium"


def test_historical_features_of_an_empty_frame(engine: Engine) -> None:
    entity = pd.DataFrame(
        {"customer_id": pd.Series([], dtype=object), "as_of": pd.Series([], dtype="datetime64[ns]")}
    )
    got = get_historical_features(entity, engine=engine)
    assert len(got) == 0 and got.columns.tolist()[2:] == [f.name for f in FEATURES]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"customer_id": ["C1"]}), "lacks column"),
        (pd.DataFrame({"customer_id": [None], "as_of": [AS_OF]}), "customer_id has missing"),
        (pd.DataFrame({"customer_id": ["C1"], "as_of": [pd.NaT]}), "as_of has missing"),
        (pd.DataFrame({"customer_id": ["C1"], "as_of": [AS_OF], "spend_30d": [1.0]}), "spend_30d"),
    ],
)
def test_historical_features_refuse_bad_entity_frames(
    engine: Engine, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        get_historical_features(frame, engine=engine)


def test_overlapping_crm_versions_are_reported_not_duplicated(engine: Engine) -> None:
    write_history(
        engine,
        History(
            versions=[
                version("C1", AS_OF - 10 * DAY, None),
                version("C1", AS_OF - 5 * DAY, None),  # two "current" versions: a broken load
            ]
        ),
    )
    entity = pd.DataFrame({"customer_id": ["C1"], "as_of": [datetime(2024, 7, 1)]})
    with pytest.raises(
        ValueError, match=r"overlapping SCD2 versions \(e.g. customer_id \['C1'\]\)"
    ):
        get_historical_features(entity, engine=engine)


def _example() -> History:
    h = History()
    h.versions = [
        version("C1", datetime(2024, 1, 10), datetime(2024, 5, 1), monthly_charges=40.0),
        version(
            "C1", datetime(2024, 5, 1), datetime(2024, 7, 2), monthly_charges=50.0, plan="premium"
        ),
        version("C1", datetime(2024, 7, 2), None, monthly_charges=99.0),  # after as_of
    ]
    h.txns = [
        {
            "txn_id": "t1",
            "customer_id": "C1",
            "txn_type": "charge",
            "amount": 40.0,
            "occurred_at": datetime(2024, 4, 15),
        },
        {
            "txn_id": "t2",
            "customer_id": "C1",
            "txn_type": "charge",
            "amount": 55.0,
            "occurred_at": datetime(2024, 6, 15),
        },
        {
            "txn_id": "t3",
            "customer_id": "C1",
            "txn_type": "failed_payment",
            "amount": 55.0,
            "occurred_at": datetime(2024, 6, 17),
        },
        {
            "txn_id": "t4",
            "customer_id": "C1",
            "txn_type": "payment",
            "amount": 55.0,
            "occurred_at": datetime(2024, 6, 20, 12),
        },
        {
            "txn_id": "t5",
            "customer_id": "C1",
            "txn_type": "charge",
            "amount": 999.0,
            "occurred_at": datetime(2024, 7, 1, 0, 0, 1),
        },  # one second after as_of
        {
            "txn_id": "t6",
            "customer_id": "C1",
            "txn_type": "charge",
            "amount": 7.0,
            "occurred_at": AS_OF - 30 * DAY,
        },  # exactly on the 30-day boundary: outside
    ]
    h.tickets = [
        {
            "ticket_id": "k1",
            "customer_id": "C1",
            "created_at": datetime(2024, 6, 1),
            "updated_at": datetime(2024, 7, 3),
            "status": "resolved",
            "category": "billing",
            "priority": "urgent",
            "resolved_at": datetime(2024, 7, 3),
            "satisfaction": 1,
        },
    ]
    return h  # fmt: skip


def test_historical_features_hand_checked(engine: Engine) -> None:
    write_history(engine, _example())
    entity = pd.DataFrame({"customer_id": ["C1"], "as_of": [AS_OF]})
    row = get_historical_features(entity, engine=engine).iloc[0]
    assert row["plan"] == "premium" and row["monthly_charges"] == 50.0  # not the July version
    assert row["price_change_90d"] == 10.0  # 50 now vs 40 on 2024-04-02
    assert row["spend_30d"] == 55.0  # t5 is after as_of, t6 on the excluded window edge
    assert row["spend_90d"] == 40.0 + 55.0 + 7.0
    assert row["failed_payments_30d"] == 1 and row["failed_payment_ratio_90d"] == 0.5
    assert row["days_since_last_payment"] == pytest.approx(10.5)
    assert row["last_charge"] == 55.0
    # The ticket is resolved only after as_of: open then, and its rating not yet visible.
    assert row["open_tickets"] == 1 and row["open_urgent_tickets"] == 1
    assert row["open_tickets_over_7d"] == 1
    assert math.isnan(row["mean_satisfaction_90d"]) and row["low_satisfaction_tickets_90d"] == 0
    assert row["oldest_open_ticket_days"] == pytest.approx(30.0)


def test_historical_features_match_reference_on_example(engine: Engine) -> None:
    history = _example()
    write_history(engine, history)
    moments = [AS_OF, AS_OF + 3 * DAY, datetime(2024, 5, 1), datetime(2023, 12, 1)]
    entity = pd.DataFrame({"customer_id": ["C1"] * 4 + ["C9"], "as_of": [*moments, AS_OF]})
    got = get_historical_features(entity, engine=engine)
    assert_features_equal(got, reference_frame(history, entity))
