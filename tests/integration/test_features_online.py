"""Online store: atomic replacement of a view, lookups, freshness, unknown ids, stale definitions,
other views untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from sqlalchemy import Engine, insert, select, text, update

from core.tables import online_features
from tasks.features.definitions import BUILTIN_VIEW, FEATURES, definitions_hash
from tasks.features.store import (
    OnlineView,
    StaleFeaturesError,
    describe_online_store,
    get_online_features,
    lookup_online_rows,
    materialize,
)
from tests.integration.test_features_reference import AS_OF, DAY, History, version, write_history


def _history() -> History:
    return History(
        versions=[
            version("C1", AS_OF - 100 * DAY, None, plan="premium"),
            version("C2", AS_OF - 50 * DAY, None),
            version("C3", AS_OF - 50 * DAY, None, cancel_date=(AS_OF - DAY).date()),
        ],
        txns=[
            {"txn_id": "t1", "customer_id": "C1", "txn_type": "charge", "amount": 0.1,
             "occurred_at": AS_OF - DAY},
            {"txn_id": "t2", "customer_id": "C1", "txn_type": "charge", "amount": 0.2,
             "occurred_at": AS_OF - 2 * DAY},
        ],
    )  # fmt: skip


def test_materialize_replaces_the_whole_view_and_no_other(engine: Engine) -> None:
    write_history(engine, _history())
    row = {"as_of": AS_OF - 30 * DAY, "features": '{"visits": 4}', "materialized_at": AS_OF}
    with engine.begin() as conn:  # a stale row of a customer who has left since; another view's
        conn.execute(
            insert(online_features),
            [{**row, "view": BUILTIN_VIEW, "customer_id": "C3", "definitions_hash": "old"},
             {**row, "view": "shop", "customer_id": "C1", "definitions_hash": "shop-hash"}],
        )  # fmt: skip
    result = materialize(AS_OF, engine=engine)
    assert (result.view, result.rows, result.as_of) == (BUILTIN_VIEW, 2, AS_OF)
    assert result.definitions_hash == definitions_hash()
    assert result.null_rates["spend_30d"] == 0.0 and result.null_rates["last_charge"] == 0.5
    status = describe_online_store(engine=engine)
    assert (status.rows, status.as_of, status.definitions_hashes) == (
        2,
        AS_OF,
        [definitions_hash()],
    )
    rows = lookup_online_rows(["C1", "C3"], engine=engine)
    assert set(rows) == {"C1"} and rows["C1"]["as_of"] == AS_OF
    assert rows["C1"]["features"]["spend_30d"] == 0.1 + 0.2  # bit-for-bit through JSON
    assert list(rows["C1"]["features"]) == [fd.name for fd in FEATURES]
    shop = OnlineView("shop", {"visits": "int"}, "shop-hash")
    assert lookup_online_rows(["C1", "C2"], engine=engine, view=shop) == {
        "C1": {"as_of": AS_OF - 30 * DAY, "features": {"visits": 4}}
    }
    with pytest.raises(StaleFeaturesError, match=r"\('shop', 'C1'\).*make declare"):
        lookup_online_rows(["C1"], engine=engine, view=OnlineView("shop", {}, "other"))


def test_get_online_features_frame_freshness_and_unknown_ids(engine: Engine) -> None:
    write_history(engine, _history())
    materialize(AS_OF, engine=engine)
    got = get_online_features(["C2", "nobody", "C1", "C2", "C3"], engine=engine)
    assert got.frame["customer_id"].tolist() == ["C2", "C1"]
    assert got.unknown_ids == ["nobody", "C3"]
    assert got.as_of == {"C2": AS_OF, "C1": AS_OF}
    assert got.definitions_hash == definitions_hash()
    assert got.frame["plan"].tolist() == ["basic", "premium"]
    for fd in FEATURES:
        want = object if fd.dtype == "category" else np.float64
        assert got.frame[fd.name].dtype == want, fd.name
    assert np.isnan(got.frame.loc[0, "last_charge"])  # C2 has no charge: null -> NaN
    empty = get_online_features(["nobody"], engine=engine)
    assert empty.frame.empty and empty.unknown_ids == ["nobody"]


def test_lookup_refuses_rows_of_other_definitions(engine: Engine) -> None:
    write_history(engine, _history())
    materialize(AS_OF, engine=engine)
    with engine.begin() as conn:
        conn.execute(update(online_features).values(definitions_hash="0" * 64))
    with pytest.raises(StaleFeaturesError, match="run the build_features flow"):
        lookup_online_rows(["C1"], engine=engine)
    with pytest.raises(StaleFeaturesError):
        get_online_features(["C2"], engine=engine)


@contextmanager
def _failing_insert_of(engine: Engine, customer_id: str) -> Iterator[None]:
    """A real trigger that makes the database reject one customer's online row."""
    if engine.dialect.name == "postgresql":
        create = [
            "CREATE FUNCTION test_boom() RETURNS trigger AS $$ BEGIN IF NEW.customer_id = "
            f"'{customer_id}' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$"
            " LANGUAGE plpgsql",
            "CREATE TRIGGER test_boom BEFORE INSERT ON online_features"
            " FOR EACH ROW EXECUTE FUNCTION test_boom()",
        ]
        drop = ["DROP TRIGGER test_boom ON online_features", "DROP FUNCTION test_boom()"]
    else:
        create = [
            "CREATE TRIGGER test_boom BEFORE INSERT ON online_features WHEN NEW.customer_id = "
            f"'{customer_id}' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        ]
        drop = ["DROP TRIGGER test_boom"]
    with engine.begin() as conn:
        for statement in create:
            conn.execute(text(statement))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for statement in drop:
                conn.execute(text(statement))


def test_failed_materialization_leaves_the_previous_store(engine: Engine) -> None:
    write_history(engine, _history())
    materialize(AS_OF - 10 * DAY, engine=engine)
    with _failing_insert_of(engine, "C2"), pytest.raises(Exception, match="boom"):
        materialize(AS_OF, engine=engine)
    with engine.connect() as conn:
        kept = conn.execute(select(online_features.c.customer_id, online_features.c.as_of)).all()
    assert sorted(kept) == [
        ("C1", AS_OF - 10 * DAY),
        ("C2", AS_OF - 10 * DAY),
        ("C3", AS_OF - 10 * DAY),
    ]
