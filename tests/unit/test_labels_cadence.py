"""Cutoff cadence: monthly, weekly or every n days; by default from the history's span."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tasks.declared.spec import SpecError, parse_spec
from tasks.labels import cutoff_moments, default_cadence, month_starts, parse_cadence
from tests.declared.files import EVENTS_SPEC, TELCO_SPEC

FIRST = datetime(2024, 1, 10, 13, 30)


def test_monthly_cutoffs_are_the_month_starts() -> None:
    now = datetime(2024, 6, 15)
    assert cutoff_moments(FIRST, now, horizon_days=30) == month_starts(FIRST, now, horizon_days=30)
    assert cutoff_moments(FIRST, now, horizon_days=30) == [
        datetime(2024, m, 1) for m in (2, 3, 4, 5)
    ]
    assert cutoff_moments(FIRST, now, horizon_days=30, every="2mo") == [
        datetime(2024, 2, 1),
        datetime(2024, 4, 1),
    ]


@pytest.mark.parametrize(("every", "step"), [("7d", 7), ("1w", 7), ("2w", 14), ("3d", 3)])
def test_day_and_week_cutoffs_start_at_the_first_midnight(every: str, step: int) -> None:
    now = datetime(2024, 3, 1)
    cutoffs = cutoff_moments(FIRST, now, horizon_days=30, every=every)
    assert cutoffs[0] == datetime(2024, 1, 11)
    assert all(b - a == timedelta(days=step) for a, b in pairwise(cutoffs))
    assert cutoffs[-1] + timedelta(days=30) <= now < cutoffs[-1] + timedelta(days=30 + step)


@pytest.mark.parametrize("bad", ["7", "d7", "0d", "1y", "1 mo", "1000d"])
def test_a_cadence_that_is_not_n_days_weeks_or_months_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not <n>d, <n>w or <n>mo"):
        parse_cadence(bad)


def test_short_histories_get_weekly_cutoffs_long_ones_monthly() -> None:
    seven_months = default_cadence(FIRST, FIRST + timedelta(days=213), horizon_days=30)
    two_years = default_cadence(FIRST, FIRST + timedelta(days=730), horizon_days=30)
    assert (seven_months, two_years) == ("7d", "1mo")
    weekly = cutoff_moments(FIRST, FIRST + timedelta(days=213), horizon_days=30, every="7d")
    assert (
        len(weekly) >= 14 > len(month_starts(FIRST, FIRST + timedelta(days=213), horizon_days=30))
    )


def test_the_spec_names_a_bad_cadence_and_refuses_it_for_a_snapshot(tmp_path: Path) -> None:
    assert parse_spec({**EVENTS_SPEC, "cutoff_every": "2w"}, base_dir=tmp_path).cutoff_every == "2w"
    with pytest.raises(SpecError, match=r"field 'cutoff_every' .*is not <n>d, <n>w or <n>mo"):
        parse_spec({**EVENTS_SPEC, "cutoff_every": "weekly"}, base_dir=tmp_path)
    with pytest.raises(SpecError, match=r"kind snapshot does not take \['cutoff_every'\]"):
        parse_spec({**TELCO_SPEC, "cutoff_every": "7d"}, base_dir=tmp_path)


def test_the_spec_takes_feature_windows_from_the_feature_store(tmp_path: Path) -> None:
    from tasks.declared.features import event_feature_defs

    spec = parse_spec({**EVENTS_SPEC, "windows": [90, 7, 28]}, base_dir=tmp_path)
    assert spec.windows == [7, 28, 90]

    def names_of(feature_set: int) -> list[str]:
        defs = event_feature_defs(
            "shop", ["login"], has_value=False, windows=(7, 28, 90), feature_set=feature_set
        )
        return [fd.name for fd in defs]

    names = names_of(2)
    assert names == [
        "login_count_7d", "login_count_28d", "login_count_90d", "days_since_last_login",
        "login_trend_7d_vs_28d", "active_days_7d", "events_per_active_day_7d",
        "active_days_28d", "events_per_active_day_28d", "active_days_90d",
        "events_per_active_day_90d", "days_since_last_event", "account_age_days",
    ]  # fmt: skip
    # set 3 (new loads): a trend per consecutive pair of windows, per type and over all events;
    # a set-2 contract keeps exactly the names above (its champion's definitions hash holds)
    set3 = names_of(3)
    assert set3 == [
        *names[:5], "login_trend_28d_vs_90d", "events_trend_7d_vs_28d", "events_trend_28d_vs_90d",
        *names[5:],
    ]  # fmt: skip
    # set 4: + the trend of events per active day for each pair; a set-3 contract keeps set 3
    assert names_of(4) == [
        *set3[:8], "events_per_active_day_trend_7d_vs_28d",
        "events_per_active_day_trend_28d_vs_90d", *set3[8:],
    ]  # fmt: skip
    with pytest.raises(SpecError, match=r"field 'windows' .*windows \[5\] must each be one of"):
        parse_spec({**EVENTS_SPEC, "windows": [5, 7]}, base_dir=tmp_path)
    with pytest.raises(SpecError, match=r"kind snapshot does not take \['windows'\]"):
        parse_spec({**TELCO_SPEC, "windows": [7]}, base_dir=tmp_path)
