"""A declared source's definitions hash is a promise to its champions: the online rows a bento
accepts carry it. Declared features now compile through the one feature compiler; the hashes of
contracts written before that (pinned here, computed by the code that trained those champions)
must not change, or every declared champion would answer 503 after an upgrade."""

from __future__ import annotations

from tasks.declared.features import source_definition

SNAPSHOT_CONTRACT = {
    "id_column": "id",
    "label_column": "churn",
    "positive": ["yes"],
    "columns": [
        {"column": "Plan", "key": "plan", "dtype": "category", "categories": ["a", "b"]},
        {"column": "Monthly", "key": "monthly", "dtype": "numeric", "categories": []},
    ],
}
EVENTS_CONTRACT = {"event_types": ["login", "pay ment"], "has_value": True}


def test_snapshot_hash_is_the_one_its_champions_were_trained_with() -> None:
    features = source_definition("telco", "snapshot", SNAPSHOT_CONTRACT)
    assert features.definitions_hash == (
        "45111e3a49605a9496c50dbf364a55331816207f8f7c093d024ac16ac0dee1bd"
    )
    assert [fd.aggregate for fd in features.features] == ["attr", "attr"]


def test_events_hash_is_the_one_its_champions_were_trained_with() -> None:
    features = source_definition("shop", "events", EVENTS_CONTRACT)
    assert features.definitions_hash == (
        "d3ba0a6ed826eecd02f5d727bd1783249e8064dbc53cad844ad68199beca8efc"
    )
