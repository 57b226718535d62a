"""The source spec and the contract derived from it: every bad input is one line naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tasks.declared.contract import check_contract, derive_contract, normal_label
from tasks.declared.reader import feature_key
from tasks.declared.source import check_source
from tasks.declared.spec import SpecError, load_spec, parse_spec
from tasks.ingestion.contracts import check_frame
from tests.declared.files import EVENTS_SPEC, TELCO_SPEC, write_events, write_spec

ROWS = pd.DataFrame(
    {
        "CustomerID": ["a", "b", "c", "d"],
        "Plan": ["x", "y", "x", "y"],
        "TotalCharges": ["10.5", " ", "oops", "3"],
        "Churn": ["Yes", "No", "No", "Yes"],
    }
).apply(lambda c: c.str.strip())


def _spec(**changes: Any) -> Any:
    return parse_spec({**TELCO_SPEC, "ignore": [], **changes}, base_dir=Path("."))


def _one_line(error: pytest.ExceptionInfo[SpecError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_spec_model_name_and_paths(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TELCO_SPEC))
    assert spec.model_name == "churn-telco"
    assert spec.resolve(spec.file) == str(tmp_path / "telco.csv")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Telco Data"}, "name"),
        ({"kind": "table"}, "kind"),
        ({"colour": "blue"}, "colour"),
        ({"positive": []}, "positive"),
        ({"event_time": "ts"}, "event_time"),
        ({"numeric": ["Plan"], "categorical": ["plan"]}, "both categorical and numeric"),
        ({"name": "model"}, "would train churn-model, a model of the project's own definitions"),
        ({"name": "sim"}, "would train churn-sim"),  # definitions/simulator.yaml's model
    ],
)
def test_spec_invalid_field_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as error:
        _spec(**changes)
    assert field in _one_line(error)


def test_spec_events_needs_subscriptions() -> None:
    document = {k: v for k, v in EVENTS_SPEC.items() if k != "subscriptions"}
    with pytest.raises(SpecError) as error:
        parse_spec(document, base_dir=Path("."))
    assert "subscriptions" in _one_line(error)


def test_spec_file_missing(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError) as error:
        check_source(load_spec(write_spec(tmp_path, TELCO_SPEC)))
    assert "telco.csv" in _one_line(error) and "no such file" in str(error.value)


def test_events_id_too_long_for_the_warehouse_is_named(tmp_path: Path) -> None:
    # it used to reach the insert (PostgreSQL: "value too long", after the delete of the old rows)
    write_events(tmp_path, customers=5)
    part = tmp_path / "events" / "part-1.csv"
    events = pd.read_csv(part, dtype=str, keep_default_na=False)
    events.loc[0, "user_id"] = "u" * 70
    events.to_csv(part, index=False)
    with pytest.raises(SpecError) as error:
        check_source(load_spec(write_spec(tmp_path, EVENTS_SPEC)))
    assert "'user_id' is over 64 characters" in _one_line(error)


def test_contract_infers_types_case_insensitively() -> None:
    contract = derive_contract(_spec(id="customerid", label="CHURN"), ROWS, where="t")
    assert contract.id_column == "CustomerID" and contract.label_column == "Churn"
    # 2 of 3 non-blank values are numbers: too few, the column is categorical
    assert {c.key: c.dtype for c in contract.columns} == {
        "plan": "category",
        "totalcharges": "category",
    }
    many = pd.DataFrame(
        {
            "CustomerID": [str(i) for i in range(40)],
            "TotalCharges": [str(i) for i in range(39)] + ["n/a"],
            "Churn": ["Yes", "No"] * 20,
        }
    )
    contract = derive_contract(_spec(), many, where="t")
    assert [(c.key, c.dtype) for c in contract.columns] == [("totalcharges", "numeric")]
    checked = check_frame(check_contract(contract, source="t"), many)
    assert list(checked.reasons) == [39]  # one typo in a numeric column: that row is quarantined


def test_contract_numeric_override_quarantines_text_and_blank_is_null() -> None:
    contract = derive_contract(_spec(numeric=["totalcharges"]), ROWS, where="t")
    checked = check_frame(check_contract(contract, source="t"), ROWS)
    assert checked.typed["TotalCharges"].isna().tolist() == [False, True, True, False]
    assert list(checked.reasons) == [2]  # the blank row is a null, "oops" is quarantined
    assert checked.reasons[2] == [{"column": "TotalCharges", "check": "type", "value": "oops"}]


def test_contract_conflicting_ids_and_missing_label_are_quarantined() -> None:
    rows = ROWS.assign(CustomerID=["a", "b", "a", "d"], Churn=["Yes", "", "No", "Yes"])
    checked = check_frame(
        check_contract(derive_contract(_spec(), rows, where="t"), source="t"), rows
    )
    assert checked.failed.tolist() == [True, True, True, False]
    assert checked.reasons[1] == [{"column": "Churn", "check": "required", "value": ""}]
    conflict = {"column": "CustomerID", "check": "conflicting_duplicate", "value": "a"}
    assert checked.reasons[0] == [conflict] and checked.reasons[2] == [conflict]


def test_contract_missing_column_is_named() -> None:
    with pytest.raises(SpecError) as error:
        derive_contract(_spec(ignore=["Gender"]), ROWS, where="t")
    assert "'ignore[0]'" in _one_line(error) and "'Gender'" in str(error.value)


def test_a_column_empty_in_every_row_is_left_out_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An all-blank column was an all-missing feature nobody was told about."""
    rows = ROWS.assign(Notes="")
    with caplog.at_level("WARNING", logger="tasks.declared.contract"):
        contract = derive_contract(_spec(), rows, where="t")
    assert "Notes" not in [c.column for c in contract.columns]
    assert [c.column for c in contract.columns] == ["Plan", "TotalCharges"]
    assert "t: column 'Notes' is empty in every row: left out of the features" in caplog.text


def test_contract_unexpected_label_values_are_named() -> None:
    rows = ROWS.assign(Churn=["Yes", "No", "Maybe", "no"])
    with pytest.raises(SpecError) as error:
        derive_contract(_spec(), rows, where="t")
    assert "['maybe', 'no']" in _one_line(error)
    with pytest.raises(SpecError) as error:
        derive_contract(_spec(negative=["No"]), rows, where="t")
    assert "['maybe']" in _one_line(error)
    assert derive_contract(_spec(negative=["No", "Maybe"]), rows, where="t").positive == ("yes",)


def test_contract_id_with_nulls_is_an_error() -> None:
    rows = ROWS.assign(CustomerID=["a", "", "c", ""])
    with pytest.raises(SpecError) as error:
        derive_contract(_spec(), rows, where="t")
    assert "2 row(s) (file lines 3, 5)" in _one_line(error)


def test_readers_refuse_a_spec_of_the_other_kind() -> None:
    events = parse_spec(EVENTS_SPEC, base_dir=Path("."))
    with pytest.raises(SpecError) as error:
        derive_contract(events, ROWS, where="t")
    assert "'shop' is kind events" in _one_line(error) and "check_source" in str(error.value)


def test_normal_label_and_feature_key() -> None:
    assert normal_label(" YES ") == "yes" and normal_label("1.0") == "1" == normal_label("1")
    assert feature_key("Monthly Charges ($)") == "monthly_charges"
    assert feature_key("2nd line") == "c_2nd_line"
    assert feature_key("Label") == "f_label"


def test_reader_parquet_and_glob_read_as_text(tmp_path: Path) -> None:
    from tasks.declared.reader import read_text_table

    pd.DataFrame({"id": ["a", "b"], "x": [1.5, None]}).to_parquet(tmp_path / "p1.parquet")
    pd.DataFrame({"id": ["c"], "x": [2.0]}).to_parquet(tmp_path / "p2.parquet")
    frame = read_text_table(str(tmp_path / "p*.parquet"))
    assert frame.to_dict("list") == {"id": ["a", "b", "c"], "x": ["1.5", "", "2.0"]}
    pd.DataFrame({"id": ["d"], "y": [1]}).to_parquet(tmp_path / "p3.parquet")
    with pytest.raises(SpecError, match="other columns"):
        read_text_table(str(tmp_path / "p*.parquet"))


def test_a_table_too_small_to_cross_validate_is_a_spec_error() -> None:
    """The data is at fault, not the run: the declare CLI answers it like bad input (exit 2)."""
    from tasks.declared.features import snapshot_features
    from tasks.declared.steps import train_spec_task

    contract = derive_contract(_spec(), ROWS, where="t")
    features = snapshot_features("telco", contract)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(12)],
            "as_of": pd.Timestamp("2024-06-30"),
            "label": [1, 1, 1] + [0] * 9,
            "plan": ["x"] * 12,
            "totalcharges": [float(i) for i in range(12)],
        }
    )
    with pytest.raises(SpecError, match=r"^telco: 3 churned and 9 stayed rows") as error:
        train_spec_task.fn(_spec(), frame, features, min_auc=0.5, tolerance=0.01)
    _one_line(error)


def test_reader_chunks_read_what_the_whole_file_reads(tmp_path: Path) -> None:
    """Arrow's chunked reader and pandas' whole read agree on the text: a byte-order mark,
    quoted headers and values with commas or line breaks, blanks, surrounding spaces."""
    from tasks.declared.reader import iter_text_tables, read_text_table

    path = tmp_path / "t.csv"
    path.write_bytes(
        '\ufeffid," Plan ",note\n1,a," x, y "\n2 ,b,"two\nlines"\n3,,\n4,d,é\n'.encode()
    )
    chunks = list(iter_text_tables(str(path), chunk_rows=3))
    assert [len(c) for c in chunks] == [3, 1]
    streamed = pd.concat(chunks, ignore_index=True).astype(object)
    assert streamed.to_dict("list") == read_text_table(str(path)).to_dict("list")
    path.write_text("id,x,x\n1,2,3\n", encoding="utf-8")
    with pytest.raises(SpecError, match="names column 'x' twice"):
        next(iter_text_tables(str(path), chunk_rows=3))
