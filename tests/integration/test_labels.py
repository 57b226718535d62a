"""Labels, cutoffs and training sets on small hand-made warehouses."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine

from tasks.features.population import data_watermark
from tasks.features.store import get_historical_features
from tasks.labels import available_cutoffs, build_labels, build_training_set
from tests.integration.test_features_reference import History, version, write_history

CUT = datetime(2024, 3, 1)
NOW = datetime(2024, 6, 15)


def _population() -> History:
    """One customer per population/label rule, all changed at some point before NOW."""
    v = [
        version("A", datetime(2024, 1, 5), None),  # active, never cancels -> 0
        version("B", datetime(2024, 1, 5), None, cancel_date=date(2024, 3, 20)),  # -> 1
        version("C", datetime(2024, 1, 5), None, cancel_date=date(2024, 3, 31)),  # edge -> 1
        version("D", datetime(2024, 1, 5), None, cancel_date=date(2024, 4, 1)),  # after -> 0
        version("E", datetime(2024, 1, 5), None, cancel_date=date(2024, 3, 1)),  # gone at cut
        version("F", datetime(2024, 3, 2), None, signup_date=date(2024, 3, 2)),  # not yet
        # G cancels later, but the CRM only learns it in April: the latest cancel_date counts.
        version("G", datetime(2024, 1, 5), datetime(2024, 4, 2)),
        version("G", datetime(2024, 4, 2), None, status="cancelled", cancel_date=date(2024, 3, 25)),
    ]
    txns = [
        {"txn_id": "first", "customer_id": "A", "txn_type": "charge", "amount": 1.0,
         "occurred_at": datetime(2024, 2, 20)},  # billing data starts here
        {"txn_id": "last", "customer_id": "A", "txn_type": "charge", "amount": 1.0,
         "occurred_at": NOW},
    ]  # fmt: skip
    return History(versions=v, txns=txns)


def test_build_labels_population_and_horizon(engine: Engine) -> None:
    write_history(engine, _population())
    labels = build_labels([CUT], 30, engine=engine)
    got = dict(zip(labels["customer_id"], labels["label"], strict=True))
    assert got == {"A": 0, "B": 1, "C": 1, "D": 0, "G": 1}
    assert (labels["as_of"] == CUT).all()
    assert labels["label"].dtype == "int64" and labels["as_of"].dtype == "datetime64[ns]"


def test_build_training_set_refuses_cutoffs_whose_horizon_has_not_elapsed(engine: Engine) -> None:
    write_history(engine, _population())
    late = datetime(2024, 6, 1)
    with pytest.raises(ValueError, match=r"2024-06-01T00:00:00.*horizon ends after"):
        build_training_set([CUT, late], 30, engine=engine)
    with pytest.raises(ValueError, match="2024-03-01"):
        build_training_set([CUT], 30, engine=engine, now=datetime(2024, 3, 30))


def test_build_training_set_is_labels_plus_point_in_time_features(engine: Engine) -> None:
    write_history(engine, _population())
    frame = build_training_set([CUT, datetime(2024, 4, 1)], 30, engine=engine)
    labels = build_labels([CUT, datetime(2024, 4, 1)], 30, engine=engine)
    pd.testing.assert_frame_equal(frame[["customer_id", "as_of", "label"]], labels)
    expected = get_historical_features(labels, engine=engine)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame.loc[frame["customer_id"] == "G", "label"].tolist() == [1]  # gone by April


def test_available_cutoffs_are_month_starts_with_elapsed_horizons(engine: Engine) -> None:
    write_history(engine, _population())
    assert data_watermark(engine=engine) == NOW
    cutoffs = available_cutoffs(engine=engine, horizon_days=30)
    # From the first month start with data in every source (CRM from Jan 5, billing from Feb 20)
    # to the last one whose horizon ends before the watermark (2024-05-01 + 30 d <= NOW).
    assert cutoffs == [datetime(2024, m, 1) for m in (3, 4, 5)]
    assert available_cutoffs(engine=engine, horizon_days=60, now=datetime(2024, 5, 1)) == [
        datetime(2024, 3, 1)
    ]


def test_labels_need_a_loaded_warehouse(engine: Engine) -> None:
    write_history(engine, History())
    assert available_cutoffs(engine=engine, horizon_days=30) == []
    with pytest.raises(ValueError, match="no data yet"):
        build_labels([CUT], 30, engine=engine)
