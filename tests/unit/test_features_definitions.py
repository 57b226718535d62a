"""Feature definitions as code: coverage, validation, a stable hash, and leak-free SQL text."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from core.tables import customers, source_snapshots, transactions
from simulator.config import CONTRACTS, PAYMENT_METHODS, PLANS, REGIONS
from tasks.features import definitions
from tasks.features.compiler import compile_source_queries
from tasks.features.definitions import CATEGORIES, FEATURES, FeatureDef, definitions_hash
from tasks.features.docs import feature_table_markdown
from tasks.features.events import MIN_TIER_FEATURES
from tasks.features.session import timestamp_text

REQUIRED = {
    "plan", "contract", "payment_method", "region", "tenure_days", "monthly_charges",
    "price_change_90d", "failed_payments_30d", "failed_payments_90d", "spend_30d", "spend_90d",
    "spend_180d", "spend_trend_30d_vs_90d", "refunds_90d", "days_since_last_payment",
    "tickets_30d", "tickets_90d", "open_tickets", "mean_satisfaction_90d",
    "low_satisfaction_tickets_90d", "urgent_tickets_90d", "cancellation_tickets_90d",
    "mean_resolution_hours_90d",
}  # fmt: skip


def test_features_cover_every_churn_driver() -> None:
    names = [fd.name for fd in FEATURES]
    assert len(names) >= 25 and len(set(names)) == len(names)
    assert set(names) >= REQUIRED
    assert {fd.source.name for fd in FEATURES} == {"customers", "transactions", "tickets"}
    assert all(fd.description for fd in FEATURES)


def test_categories_match_the_source_systems() -> None:
    assert CATEGORIES == {
        "plan": PLANS,
        "contract": CONTRACTS,
        "payment_method": PAYMENT_METHODS,
        "region": REGIONS,
    }
    assert {fd.name for fd in FEATURES if fd.dtype == "category"} == set(CATEGORIES)


def test_definitions_hash_is_stable_across_processes() -> None:
    code = "from tasks.features.definitions import definitions_hash; print(definitions_hash())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == definitions_hash()
    assert len(definitions_hash()) == 64


def test_definitions_hash_changes_with_what_a_feature_computes() -> None:
    base = definitions_hash(FEATURES)
    i = next(i for i, fd in enumerate(FEATURES) if fd.name == "spend_30d")

    def swapped(**change: object) -> tuple[FeatureDef, ...]:
        return (*FEATURES[:i], replace(FEATURES[i], **change), *FEATURES[i + 1 :])  # type: ignore[arg-type]

    wider, renamed = swapped(window_days=60), swapped(name="spend_last_30d")
    reworded = swapped(description="other words")
    assert definitions_hash(wider) != base
    assert definitions_hash(renamed) != base
    assert definitions_hash(FEATURES[:-1]) != base
    assert definitions_hash(reworded) == base  # documentation only


def test_definitions_hash_changes_with_category_order() -> None:
    base = definitions_hash(FEATURES[:3])
    reordered = {**definitions.CATEGORIES, "plan": ("premium", "standard", "basic")}
    assert definitions_hash(FEATURES[:3], categories=reordered) != base
    assert definitions_hash(FEATURES[:3], categories=dict(definitions.CATEGORIES)) == base


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aggregate": "ratio", "value": transactions.c.amount}, "denominator"),
        ({"aggregate": "sum", "value": transactions.c.amount, "window_days": 45}, "window_days"),
        ({"aggregate": "sum"}, "needs a value"),
        ({"aggregate": "count", "dtype": "category"}, "category"),
        (
            {"aggregate": "trend", "value": transactions.c.amount, "baseline_days": 7},
            "baseline_days",
        ),
        ({"aggregate": "attr", "value": transactions.c.amount}, "only applies to attribute tabl"),
        (
            {"aggregate": "sum", "value": customers.c.monthly_charges, "source": customers},
            r"features of customers use \['attr', 'change'",
        ),
        (
            {"aggregate": "attr", "value": source_snapshots.c.customer_id, "window_days": None,
             "source": source_snapshots},
            "needs a filter naming its source",
        ),
        ({"aggregate": "count", "name": "Bad Name"}, "lower_snake_case"),
        ({"aggregate": "sum", "value": transactions.c.amount, "dtype": "int"}, "for counts"),
        (
            {"aggregate": "days_since_last", "source": customers, "window_days": None},
            "days_since_last on the customers source needs a value",
        ),
    ],
)  # fmt: skip
def test_ill_defined_features_are_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"name": "x", "dtype": "float", "description": "d"}
    fields.update(source=transactions, window_days=30)
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        FeatureDef(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_compiled_sql_never_reads_latest_state_columns(dialect: object) -> None:
    """tickets.status/updated_at and customers.status hold the latest state: reading them leaks."""
    for query in compile_source_queries(FEATURES).values():
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[arg-type]
        for column in ("tickets.status", "tickets.updated_at", "customers.status"):
            assert column not in sql


def test_every_feature_is_compiled_exactly_once_in_narrow_tiers() -> None:
    queries = compile_source_queries(FEATURES)
    columns = [c.name for q in queries.values() for c in list(q.selected_columns)[1:]]
    assert sorted(columns) == sorted(fd.name for fd in FEATURES)
    tiers = [name for name in queries if name.startswith("transactions:")]
    assert len(tiers) >= 2  # short windows do not pay for the longest one
    sizes = [len(queries[t].selected_columns) - 1 for t in tiers]
    assert all(size >= MIN_TIER_FEATURES for size in sizes[:-1])


def test_timestamp_text_is_sqlalchemys_sqlite_storage_format() -> None:
    moments = [datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 12, 31, 23, 59, 59, 123456)]
    bind = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert bind is not None
    want = [bind(m) for m in moments]
    assert timestamp_text(np.array(moments, dtype="datetime64[us]")).tolist() == want


def test_docs_feature_table_is_current() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "features.md").read_text()
    start = doc.index("-->", doc.index("<!-- feature-table:start")) + len("-->")
    table = doc[start : doc.index("<!-- feature-table:end")].strip()
    assert table == feature_table_markdown(), "run `python -m tasks.features.docs` into docs"
