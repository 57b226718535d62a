"""Billing ingestion against real warehouses (SQLite and PostgreSQL), from a tiny billing.db."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, select, text

from core.tables import ingestion_runs, quarantine
from tasks.ingestion import SchemaMismatchError, SourceFormatError, Window, ingest_source
from tasks.ingestion.base import RunContext
from tasks.ingestion.sources.billing import BillingSource

COLUMNS = "id, txn_ref, account_id, event_type, amount_cents, currency, created_at"
EVENTS: list[tuple[Any, ...]] = [
    (1, "TXN1", "C0000001", "charge", 2990, "USD", "2024-01-01 10:00:00"),
    (2, "TXN1", "C0000001", "charge", 2990, "USD", "2024-01-01 10:00:00"),  # legacy duplicate
    (3, "TXN2", "C0000001", "payment", 2990, "USD", "2024-01-02 09:30:00"),
    (4, "TXN3", "C0000002", "refund", -500, "USD", "2024-01-03 08:00:00"),  # negative amount
    (5, None, "C0000002", "bonus", "abc", "EUR", "2024-01-04 12:00:00"),  # four faults
    (6, "TXN5", "C0000002", "failed_payment", 5490, "USD", "2024-02-01 00:00:00"),
]
LATER: list[tuple[Any, ...]] = [
    (7, "TXN6", "C0000003", "charge", 8999, "USD", "2024-02-15 10:00:00"),
    (8, "TXN7", "C0000003", "payment", 8999, "USD", "2024-03-01 10:00:00"),
]


def write_billing(source_dir: Path, events: list[tuple[Any, ...]], columns: str = COLUMNS) -> None:
    """Append events to ``billing/billing.db`` in the billing system's own layout."""
    (source_dir / "billing").mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source_dir / "billing" / "billing.db") as conn:
        names = [c.strip() for c in columns.split(",")]
        types = {"id": "INTEGER PRIMARY KEY", "amount_cents": "INTEGER"}
        ddl = ", ".join(f"{n} {types.get(n, 'TEXT')}" for n in names)
        conn.execute(f"CREATE TABLE IF NOT EXISTS billing_events ({ddl})")
        marks = ", ".join("?" for _ in names)
        conn.executemany(f"INSERT INTO billing_events ({columns}) VALUES ({marks})", events)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Warehouse content that must not depend on how often a window was loaded."""
    queries = {
        "transactions": "SELECT txn_id, customer_id, txn_type, amount, occurred_at FROM "
        "transactions ORDER BY txn_id",
        "quarantine": "SELECT source, payload_hash, raw_payload FROM quarantine ORDER BY 2",
    }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(text(q))] for k, q in queries.items()}


def run_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(ingestion_runs).order_by(ingestion_runs.c.started_at)
        return [dict(r._mapping) for r in conn.execute(query)]


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    write_billing(tmp_path, EVENTS)
    return tmp_path


def test_billing_loads_valid_events_and_quarantines_the_rest(
    engine: Engine, source_dir: Path
) -> None:
    result = ingest_source("billing", engine=engine, source_dir=source_dir)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 4, 2)
    assert result.rows_loaded + result.rows_quarantined == result.rows_read
    assert result.watermark == datetime(2024, 2, 1)
    rows = snapshot(engine)["transactions"]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("TXN1", "charge", 29.9),
        ("TXN2", "payment", 29.9),
        ("TXN5", "failed_payment", 54.9),
    ]
    assert pd.Timestamp(rows[1][4]) == pd.Timestamp("2024-01-02 09:30:00")
    with engine.connect() as conn:
        bad = {r.natural_key: r for r in conn.execute(select(quarantine))}
    assert set(bad) == {"TXN3", None}
    assert '"amount_cents": -500' in bad["TXN3"].raw_payload
    assert bad["TXN3"].reasons == [{"column": "amount_cents", "check": "ge", "value": "-500"}]
    assert {(r["column"], r["check"]) for r in bad[None].reasons} == {
        ("txn_ref", "required"),
        ("event_type", "allowed"),
        ("amount_cents", "type"),
        ("currency", "allowed"),
    }
    (run,) = run_rows(engine)
    assert (run["status"], run["rows_read"], run["rows_loaded"]) == ("succeeded", 6, 4)
    assert run["watermark"] == datetime(2024, 2, 1)


def test_billing_rerun_of_a_window_changes_nothing(engine: Engine, source_dir: Path) -> None:
    window = Window(start=None, end=datetime(2024, 3, 1))
    ingest_source("billing", engine=engine, source_dir=source_dir, window=window)
    before = snapshot(engine)
    again = ingest_source("billing", engine=engine, source_dir=source_dir, window=window)
    assert again.rows_read == 6
    assert snapshot(engine) == before


def test_billing_default_window_starts_at_last_watermark(engine: Engine, source_dir: Path) -> None:
    ingest_source("billing", engine=engine, source_dir=source_dir)
    write_billing(source_dir, LATER)
    second = ingest_source("billing", engine=engine, source_dir=source_dir)
    assert (second.window_start, second.rows_read, second.rows_quarantined) == (
        datetime(2024, 2, 1),
        2,
        0,
    )
    assert second.watermark == datetime(2024, 3, 1, 10)
    third = ingest_source("billing", engine=engine, source_dir=source_dir)
    assert (third.rows_read, third.watermark) == (0, datetime(2024, 3, 1, 10))
    assert len(snapshot(engine)["transactions"]) == 5


def test_billing_explicit_window_reads_only_that_window(engine: Engine, source_dir: Path) -> None:
    window = Window(start=datetime(2024, 1, 1, 10), end=datetime(2024, 1, 3, 8))
    result = ingest_source("billing", engine=engine, source_dir=source_dir, window=window)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert [r[0] for r in snapshot(engine)["transactions"]] == ["TXN2"]


def test_billing_renamed_column_fails_before_any_write(engine: Engine, tmp_path: Path) -> None:
    renamed = COLUMNS.replace("amount_cents", "amount")
    write_billing(
        tmp_path, [(1, "TXN1", "C0000001", "charge", 100, "USD", "2024-01-01 00:00:00")], renamed
    )
    with pytest.raises(SchemaMismatchError, match="amount_cents") as err:
        ingest_source("billing", engine=engine, source_dir=tmp_path)
    assert "unexpected column(s) amount" in str(err.value)
    assert snapshot(engine) == {"transactions": [], "quarantine": []}
    (run,) = run_rows(engine)
    assert run["status"] == "failed"
    assert "amount_cents" in run["error"]
    assert (run["rows_read"], run["rows_loaded"], run["watermark"]) == (0, 0, None)


def test_billing_file_that_is_not_sqlite_fails_as_format_error(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "billing.db").write_text("txn_ref,amount\nTXN1,100\n")
    with pytest.raises(SourceFormatError, match="not a readable SQLite database"):
        ingest_source("billing", engine=engine, source_dir=tmp_path)
    assert run_rows(engine)[0]["status"] == "failed"


class CrashingBilling(BillingSource):
    """Billing whose publish dies after ``survive`` chunks were written (a crash mid-run)."""

    def __init__(self, survive: int) -> None:
        self.calls = 0
        self.survive = survive

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        self.calls += 1
        if self.calls > self.survive:
            raise OSError("disk vanished mid-run")
        super().publish(valid, conn, run)


def test_billing_crash_mid_run_leaves_warehouse_as_before(engine: Engine, source_dir: Path) -> None:
    ingest_source("billing", engine=engine, source_dir=source_dir)
    after_first = snapshot(engine)
    write_billing(
        source_dir, [*LATER, (9, "TXN8", "C0000003", "refund", 100, "USD", "2024-03-02 10:00:00")]
    )
    crashing = CrashingBilling(survive=1)
    with pytest.raises(OSError, match="disk vanished"):
        ingest_source(crashing, engine=engine, source_dir=source_dir, chunk_rows=2)
    assert crashing.calls == 2  # the first chunk was written inside the rolled-back transaction
    assert snapshot(engine) == after_first
    assert [r["status"] for r in run_rows(engine)] == ["succeeded", "failed"]

    recovered = ingest_source("billing", engine=engine, source_dir=source_dir, chunk_rows=2)
    assert (recovered.window_start, recovered.rows_read) == (datetime(2024, 2, 1), 3)
    txn_ids = [r[0] for r in snapshot(engine)["transactions"]]
    assert txn_ids == ["TXN1", "TXN2", "TXN5", "TXN6", "TXN7", "TXN8"]
    assert snapshot(engine)["quarantine"] == after_first["quarantine"]
