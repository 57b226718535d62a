"""A churn definition written as YAML builds the same objects as the Python catalog, and every
mistake in one is a one-line error naming the file, the feature and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.dialects import postgresql, sqlite

from core.tables import tickets, transactions
from tasks.definitions import DEFINITIONS_DIR, document_definitions, get_definition
from tasks.definitions.document import DefinitionError, load_definition
from tasks.definitions.expressions import ExpressionError, parse_expression
from tasks.features.compiler import compile_source_queries

SIMULATOR = DEFINITIONS_DIR / "simulator.yaml"


def _sql(query: object, dialect: object) -> str:
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]


def test_the_simulator_yaml_is_the_catalog_written_out() -> None:
    declared, catalog = load_definition(SIMULATOR), get_definition("churn-model")
    assert declared.name == "churn-sim" and document_definitions()["churn-sim"].name == "churn-sim"
    assert [v.name for v in declared.views] == [v.name for v in catalog.views]
    assert [(s.name, s.kind, s.table) for s in declared.sources] == [
        (s.name, s.kind, s.table) for s in catalog.sources
    ]
    for mine, theirs in zip(declared.features, catalog.features, strict=True):
        assert (mine.name, mine.dtype, mine.aggregate, mine.window_days, mine.baseline_days) == (
            theirs.name, theirs.dtype, theirs.aggregate, theirs.window_days, theirs.baseline_days
        )  # fmt: skip
        assert mine.description == theirs.description
        assert mine.valid_range == theirs.valid_range, mine.name
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        mine_q, theirs_q = (compile_source_queries(d.features) for d in (declared, catalog))
        assert {k: _sql(q, dialect) for k, q in mine_q.items()} == {
            k: _sql(q, dialect) for k, q in theirs_q.items()
        }
    assert declared.categories == catalog.categories and dict(declared.monotone) == dict(
        catalog.monotone
    )
    assert declared.definitions_hash == catalog.definitions_hash  # one computation serves both


def test_expressions_cover_the_catalog_shapes() -> None:
    case = parse_expression(
        "case(txn_type == 'charge', amount, txn_type == 'payment', -amount, else_=0)",
        table=transactions,
    )
    assert "CASE WHEN" in _sql(case, sqlite.dialect())
    listed = parse_expression("txn_type in ('a', 'b')", table=transactions)
    assert "IN ('a', 'b')" in _sql(listed, sqlite.dialect())
    opened = parse_expression("resolved_at is None or not (created_at > as_of)", table=tickets)
    assert "IS NULL" in _sql(opened, sqlite.dialect())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount_usd", r"table 'transactions' has no column 'amount_usd' \(columns: "),
        ("__import__('os')", r"call __import__\('os'\) is not one of case"),
        ("amount.real", "Attribute is not allowed"),
        ("1 < amount < 5", "chained comparisons"),
        ("amount +", "does not parse"),
        ("state_at_as_of('priority')", "declares no states table"),
        ("txn_type in 'ab'", "in takes a list"),
        ("amount is 3", "is compares with None only"),
    ],
)
def test_an_expression_outside_the_language_is_named(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as error:
        parse_expression(text, table=transactions)
    assert "\n" not in str(error.value) and repr(text) in str(error.value)


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    document = yaml.safe_load(SIMULATOR.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    path = tmp_path / "definition.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"views.1.features.0.value": "amount_usd"}, r"'spend_30d': expression 'amount_usd'"),
        ({"views.1.features.0.window_days": 45}, r"'spend_30d' is ill-defined: window_days"),
        ({"sources.1.table": "payments"}, r"no warehouse table 'payments'"),
        ({"sources.3.table": "source_subscriptions"}, r"labels come from one lifecycle source"),
        ({"views.1.source": "ledger"}, r"view 'billing' reads source 'ledger', not declared"),
        ({"horizon_days": "soon"}, r"field 'horizon_days'"),
        ({"views.0.features.0.colour": "red"}, r"field 'views.0.features.0.colour'"),
    ],
)  # fmt: skip
def test_a_broken_definition_is_one_line_naming_file_and_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(DefinitionError, match=message) as error:
        load_definition(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
