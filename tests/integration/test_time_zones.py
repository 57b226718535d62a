"""One time convention: aware datetimes become naive UTC once, at every entry point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine, select

from core.tables import online_features
from tasks.features.store import get_historical_features, materialize
from tasks.labels import available_cutoffs, build_labels
from tests.integration.test_features_reference import write_history
from tests.integration.test_labels import CUT, _population

PLUS_5 = timezone(timedelta(hours=5))
AWARE_CUT = datetime(2024, 3, 1, 5, 0, tzinfo=PLUS_5)  # the same instant as CUT (naive UTC)


def test_plus_five_hours_means_the_same_instant_everywhere(engine: Engine) -> None:
    write_history(engine, _population())
    assert AWARE_CUT.astimezone(UTC).replace(tzinfo=None) == CUT

    pd.testing.assert_frame_equal(
        build_labels([AWARE_CUT], 30, engine=engine), build_labels([CUT], 30, engine=engine)
    )
    assert (
        available_cutoffs(engine=engine, horizon_days=30, now=AWARE_CUT + timedelta(days=30))[-1]
        == CUT
    )

    ids = ["A", "B", "C"]
    naive = get_historical_features(
        pd.DataFrame({"customer_id": ids, "as_of": [CUT] * 3}), engine=engine
    )
    aware = get_historical_features(
        pd.DataFrame({"customer_id": ids, "as_of": [AWARE_CUT] * 3}), engine=engine
    )
    pd.testing.assert_frame_equal(aware.drop(columns="as_of"), naive.drop(columns="as_of"))

    done = materialize(AWARE_CUT, engine=engine)
    assert done.as_of == CUT
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(select(online_features.c.as_of))}
    assert stored == {CUT}
