"""Contract checks on tiny inline frames: every reason per row, typing, schema errors, parsing."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from tasks.ingestion.base import Window
from tasks.ingestion.contracts import Contract, Field, Rule, check_columns, check_frame
from tasks.ingestion.errors import SchemaMismatchError
from tasks.ingestion.parsing import parse_csv_lines, parse_json_lines

CONTRACT = Contract(
    source="test",
    key="id",
    fields=(
        Field("id", pattern=r"C\d{3}"),
        Field("n", "integer", ge=0),
        Field("price", "decimal", gt=0, lt=100, decimals=2),
        Field("kind", allowed=("a", "b")),
        Field("day", "date", required=False),
        Field("at", "timestamp", fmt="%Y-%m-%d %H:%M:%S"),
    ),
    rules=(Rule("day", "required_when_b", lambda df: (df["kind"] != "b") | df["day"].notna()),),
)


def _raw(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "id": ["C001", "C002", "C003"],
        "n": ["1", "2", "3"],
        "price": ["9.99", "10", "0.5"],
        "kind": ["a", "b", "a"],
        "day": ["", "2024-01-31", ""],
        "at": ["2024-01-01 10:00:00"] * 3,
    }
    base.update(columns)
    return pd.DataFrame(base, dtype=object)


def test_check_frame_accepts_valid_rows_and_types_them() -> None:
    checked = check_frame(CONTRACT, _raw())
    assert not checked.failed.any()
    assert checked.reasons == {}
    typed = checked.typed
    assert typed["n"].tolist() == [1, 2, 3]
    assert typed["price"].tolist() == [9.99, 10.0, 0.5]
    assert typed["day"].iloc[1] == pd.Timestamp("2024-01-31")
    assert pd.isna(typed["day"].iloc[0])
    assert typed["at"].iloc[0] == pd.Timestamp("2024-01-01 10:00:00")


def test_check_frame_reports_every_reason_of_a_row() -> None:
    raw = _raw(
        id=["X1", "C002", ""],
        n=["-1", "2.5", "x"],
        price=["1.234", "100", "0"],
        kind=["c", "b", "a"],
        day=["2024-02-30", "", ""],
        at=["2024-01-01", "2024-01-01 10:00:00", "2024-01-01 10:00:00"],
    )
    checked = check_frame(CONTRACT, raw)
    assert checked.failed.tolist() == [True, True, True]
    as_set = {
        k: {(r["column"], r["check"], r["value"]) for r in v} for k, v in checked.reasons.items()
    }
    assert as_set[0] == {
        ("id", "pattern", "X1"),
        ("n", "ge", "-1"),
        ("price", "decimals", "1.234"),
        ("kind", "allowed", "c"),
        ("day", "type", "2024-02-30"),
        ("at", "type", "2024-01-01"),
    }
    assert as_set[1] == {
        ("n", "type", "2.5"),
        ("price", "lt", "100"),
        ("day", "required_when_b", ""),
    }
    assert as_set[2] == {("id", "required", ""), ("n", "type", "x"), ("price", "gt", "0")}


def test_check_frame_rejects_non_text_value_in_string_field() -> None:
    raw = _raw(id=["C001", 7, None])
    checked = check_frame(CONTRACT, raw)
    assert checked.failed.tolist() == [False, True, True]
    assert checked.reasons[1] == [{"column": "id", "check": "type", "value": "7"}]
    assert checked.reasons[2] == [{"column": "id", "check": "required", "value": None}]


def test_check_columns_names_missing_and_unexpected_columns() -> None:
    columns = ["id", "n", "price_eur", "kind", "day", "at"]
    with pytest.raises(SchemaMismatchError, match="price") as err:
        check_columns(CONTRACT, columns, where="file x.csv")
    assert err.value.missing == ["price"]
    assert err.value.unexpected == ["price_eur"]
    assert "x.csv" in str(err.value)


def test_parse_csv_lines_refuses_ragged_lines_with_their_text() -> None:
    header = ["a", "b", "c"]
    frame, payloads, rejected = parse_csv_lines(['1,"x,y",3', "1,2", "4,5,6,7"], header)
    assert frame.to_dict("records") == [{"a": "1", "b": "x,y", "c": "3"}]
    assert payloads.tolist() == ['1,"x,y",3']
    assert [r.payload for r in rejected] == ["1,2", "4,5,6,7"]
    assert rejected[0].reasons == [{"column": None, "check": "field_count", "value": "2 of 3"}]


def test_parse_json_lines_refuses_malformed_and_non_object_lines() -> None:
    lines = ['{"a": 1, "b": null}', "{broken", "[1, 2]"]
    frame, payloads, rejected = parse_json_lines(lines)
    assert frame.to_dict("records") == [{"a": 1, "b": None}]
    assert payloads.tolist() == [lines[0]]
    assert [(r.payload, r.reasons[0]["check"]) for r in rejected] == [
        ("{broken", "json"),
        ("[1, 2]", "json_object"),
    ]


def test_window_is_open_at_start_and_closed_at_end() -> None:
    window = Window(start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    assert not window.contains(datetime(2024, 1, 1))
    assert window.contains(datetime(2024, 1, 15))
    assert window.contains(datetime(2024, 2, 1))
    assert not window.contains(datetime(2024, 2, 2))
    assert Window().contains(datetime(1990, 1, 1))
    with pytest.raises(ValueError, match="before its start"):
        Window(start=datetime(2024, 2, 1), end=datetime(2024, 1, 1))


def test_check_frame_mixed_timestamps_become_naive_utc() -> None:
    contract = Contract(source="t", fields=(Field("at", "timestamp", fmt="mixed"),))
    raw = pd.DataFrame({"at": ["2024-01-01T12:00:00+02:00", "01/31/2024 10:00", "yesterday"]})
    checked = check_frame(contract, raw)
    assert checked.failed.tolist() == [False, False, True]
    assert checked.typed["at"].iloc[0] == pd.Timestamp("2024-01-01 10:00:00")
    assert checked.typed["at"].iloc[1] == pd.Timestamp("2024-01-31 10:00:00")
    assert checked.reasons[2] == [{"column": "at", "check": "type", "value": "yesterday"}]


@pytest.mark.parametrize(
    ("times", "amounts"),
    [
        (["2024-01-01 10:00:00", "2024-01-02T11:30:00.5", "2024-01-03"], ["1.5", "", "+3"]),
        (["2024-01-01 10:00:00+02:00", "", "31/12/2024"], ["abc", "nan", "1e3"]),  # fallbacks
    ],
)
def test_check_frame_arrow_text_types_and_rejects_as_object_text(
    times: list[str], amounts: list[str]
) -> None:
    """Arrow-backed text (a file read in chunks) is cast in C++; where a value is outside the
    strict casts, pandas parses it as for Python strings: same values, same reasons."""
    contract = Contract(
        source="t",
        fields=(
            Field("id"),
            Field("at", "timestamp", fmt="mixed"),
            Field("amount", "decimal", required=False),
        ),
    )
    raw = pd.DataFrame({"id": ["a", "b", ""], "at": times, "amount": amounts}, dtype=object)
    as_objects = check_frame(contract, raw)
    as_arrow = check_frame(contract, raw.astype(pd.StringDtype("pyarrow")))
    assert as_arrow.failed.tolist() == as_objects.failed.tolist()
    assert as_arrow.reasons == as_objects.reasons
    valid = ~as_objects.failed
    for column in ("id", "at", "amount"):  # invalid values are masked (NaN or NA), then dropped
        ours, theirs = (c.typed.loc[valid, column].astype(object) for c in (as_arrow, as_objects))
        assert (
            ours.where(ours.notna(), None).tolist() == theirs.where(theirs.notna(), None).tolist()
        )
