"""Feature definitions of declared sources: point in time, online = historical, stale refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from tasks.declared.labels import available_cutoffs, events_labels
from tasks.declared.pipeline import ingest_source, load_definition, materialize_spec
from tasks.declared.spec import load_spec
from tasks.features.lookup import (
    OnlineView,
    StaleFeaturesError,
    get_online_features,
    lookup_online_rows,
)
from tasks.features.retrieval import get_historical_features
from tests.declared.files import EVENTS_SPEC, TELCO_SPEC, write_spec


def _telco(folder: Path, day: str, tenure: list[str]) -> None:
    pd.DataFrame(
        {
            "customerID": ["a", "b", "c"],
            "gender": ["F", "M", "F"],
            "Plan": ["x", "y", ""],
            "tenure": tenure,
            "Churn": ["No", "Yes", "No"],
        }
    ).to_csv(folder / "telco.csv", index=False)
    write_spec(folder, {**TELCO_SPEC, "snapshot_date": day})


def test_snapshot_features_are_point_in_time(tmp_path: Path, engine: Engine) -> None:
    _telco(tmp_path, "2024-01-31", ["1", "5", " "])
    ingest_source(load_spec(tmp_path / "spec.yaml"), engine=engine)
    _telco(tmp_path, "2024-02-29", ["2", "6", "9"])
    spec = load_spec(tmp_path / "spec.yaml")
    ingest_source(spec, engine=engine)
    features = load_definition(spec, engine=engine)
    assert features.names == ["plan", "tenure"]  # gender ignored, id and label are not features
    entities = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "c", "zz"],
            "as_of": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-03-01", "2024-02-01", "2024-03-01"]
            ),
        }
    )
    frame = get_historical_features(entities, engine=engine, features=features.features)
    assert np.array_equal(
        frame["tenure"].to_numpy(), [np.nan, 1, 2, np.nan, np.nan], equal_nan=True
    )
    assert frame["plan"].tolist() == [None, "x", "x", None, None]


def _events(folder: Path) -> None:
    (folder / "events").mkdir()
    pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u1"],
            "ts": ["2024-03-01", "2024-03-20T10:00:00", "2024-03-31", "2024-03-30", "2024-04-02"],
            "event": ["login", "login", "pay", "login", "login"],
            "amount": ["", "", "9.5", "", ""],
        }
    ).to_csv(folder / "events" / "a.csv", index=False)
    pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "started": ["2023-12-01", "2024-01-15", "2024-01-01"],
            "ended": ["", "2024-04-20", "2024-02-10"],
        }
    ).to_csv(folder / "subscriptions.csv", index=False)
    write_spec(folder, EVENTS_SPEC)


def test_events_per_active_day_trend_compares_the_intensity_of_active_days(
    tmp_path: Path, engine: Engine
) -> None:
    """Feature set 4: events per active day in the recent window over the window before it."""
    (tmp_path / "events").mkdir()
    times = ["2024-03-10T08:00", "2024-03-10T09:00", "2024-03-10T10:00", "2024-03-11", "2024-03-30"]
    pd.DataFrame(
        {"user_id": ["u9"] * 5, "ts": times, "event": ["login"] * 5, "amount": [""] * 5}
    ).to_csv(tmp_path / "events" / "a.csv", index=False)
    pd.DataFrame({"user_id": ["u9"], "started": ["2024-01-01"], "ended": [""]}).to_csv(
        tmp_path / "subscriptions.csv", index=False
    )
    write_spec(tmp_path, EVENTS_SPEC)
    spec = load_spec(tmp_path / "spec.yaml")
    ingest_source(spec, engine=engine)
    definition = load_definition(spec, engine=engine)
    frame = get_historical_features(
        pd.DataFrame({"customer_id": ["u9"], "as_of": [datetime(2024, 4, 1)]}),
        engine=engine,
        features=definition.features,
    )
    u9 = frame.iloc[0]
    # last 7 days: 1 event on 1 day; days 8-30: 4 events on 2 days → 1.0 / 2.0
    assert u9["events_per_active_day_trend_7d_vs_30d"] == pytest.approx(0.5)
    # days 31-90 hold no active day: no intensity to compare with
    assert np.isnan(u9["events_per_active_day_trend_30d_vs_90d"])
    # the plain trend compares events per calendar day instead: (1/7) / (4/23)
    assert u9["events_trend_7d_vs_30d"] == pytest.approx((1 / 7) / (4 / 23))


def test_event_features_windows_and_recency(tmp_path: Path, engine: Engine) -> None:
    _events(tmp_path)
    spec = load_spec(tmp_path / "spec.yaml")
    ingest_source(spec, engine=engine)
    features = load_definition(spec, engine=engine)
    at = datetime(2024, 4, 1)
    frame = get_historical_features(
        pd.DataFrame({"customer_id": ["u1", "u2"], "as_of": [at, at]}),
        engine=engine,
        features=features.features,
    )
    u1, u2 = frame.iloc[0], frame.iloc[1]
    # u1 logins at 03-01 and 03-20 (04-02 is after as_of): 7d none, 30d one, 90d two
    assert (u1["login_count_7d"], u1["login_count_30d"], u1["login_count_90d"]) == (0, 1, 2)
    assert u1["pay_sum_7d"] == 9.5 and u1["days_since_last_pay"] == 1.0
    assert u1["days_since_last_login"] == pytest.approx(12 - 10 / 24)
    assert np.isnan(u2["days_since_last_pay"]) and u2["login_count_7d"] == 1
    # activity over all events: u1's days with events are 03-01, 03-20 and 03-31
    activity = [f"active_days_{d}d" for d in (7, 30, 90)]
    assert [u1[c] for c in activity] == [1, 2, 3] and [u2[c] for c in activity] == [1, 1, 1]
    assert u1["events_per_active_day_90d"] == 1.0 and u1["days_since_last_event"] == 1.0
    assert u1["account_age_days"] == 31.0 and u2["account_age_days"] == 2.0
    # logins per day, last 7 days vs days 8-30: u1 none lately (0), u2 none before (NaN)
    assert u1["login_trend_7d_vs_30d"] == 0.0 and np.isnan(u2["login_trend_7d_vs_30d"])
    # labels: u2 ends within 30 days of the 04-01 cutoff, u1 is open, u3 left before
    labels = events_labels(spec.name, [at], 30, engine=engine)
    assert labels[["customer_id", "label"]].values.tolist() == [["u1", 0], ["u2", 1]]
    monthly = available_cutoffs(spec.name, engine=engine, horizon_days=20, every="1mo")
    assert monthly == [datetime(2024, 3, 1)]  # 04-01 + 20 days is after the last fact (04-20)
    # by default a history this short gets weekly cutoffs, up to the last elapsed horizon
    weekly = available_cutoffs(spec.name, engine=engine, horizon_days=20)
    last_fact = datetime(2024, 4, 20)
    assert weekly[-1] + timedelta(days=20) <= last_fact < weekly[-1] + timedelta(days=27)
    assert {(b - a).days for a, b in pairwise(weekly)} == {7}


def test_online_equals_historical_and_refuses_other_definitions(
    tmp_path: Path, engine: Engine
) -> None:
    _events(tmp_path)
    spec = load_spec(tmp_path / "spec.yaml")
    ingest_source(spec, engine=engine)
    features = load_definition(spec, engine=engine)
    result = materialize_spec(spec, engine=engine)
    # as of the last fact (u2's end, 04-20) only u1 is still a customer
    assert result.rows == 1 and result.as_of == datetime(2024, 4, 20)
    assert result.view == "shop"
    online = get_online_features(["u2", "u1", "nobody"], engine=engine, view=features.online_view)
    assert online.unknown_ids == ["u2", "nobody"]
    historical = get_historical_features(
        pd.DataFrame({"customer_id": ["u1"], "as_of": [result.as_of]}),
        engine=engine,
        features=features.features,
    )
    pd.testing.assert_frame_equal(
        online.frame.reset_index(drop=True),
        historical.drop(columns=["as_of"]).reset_index(drop=True),
        check_dtype=False,
    )
    with pytest.raises(StaleFeaturesError, match="shop"):
        lookup_online_rows(["u1"], engine=engine, view=OnlineView("shop", {}, "0" * 64))
