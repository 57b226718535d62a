"""CRM ingestion: SCD2 history, idempotent reruns, schema failures, crash safety."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, select, text

from core.tables import ingestion_runs
from tasks.ingestion import SchemaMismatchError, Window, ingest_source
from tasks.ingestion.base import RunContext
from tasks.ingestion.sources.crm import CrmSource

HEADER = (
    "customer_id,signup_date,plan,contract,payment_method,region,monthly_charges,status,"
    "cancel_date,updated_at"
)
JAN = [
    "C0000001,2023-05-01,basic,month-to-month,credit_card,north,29.90,active,,2024-01-01T00:00:00",
    "C0000002,2023-06-10,premium,two-year,bank_transfer,south,89.99,active,,2024-01-01T00:00:00",
    "C0000003,2023-07-01,basic,one-year,mailed_check,east,-5.00,active,,2024-01-01T00:00:00",
]
FEB = [
    "C0000001,2023-05-01,standard,month-to-month,credit_card,north,54.99,active,,2024-02-03T10:00:00",
    "C0000002,2023-06-10,premium,two-year,bank_transfer,south,89.99,active,,2024-02-05T00:00:00",
    "C0000001,2023-05-01,standard,month-to-month,credit_card,north,54.99,cancelled,2024-02-20,2024-02-20T09:00:00",
]


def write_crm(source_dir: Path, month: str, lines: list[str], header: str = HEADER) -> None:
    folder = source_dir / "crm"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"customers_{month}.csv").write_text("\n".join([header, *lines]) + "\n")


def versions(engine: Engine) -> list[tuple[Any, ...]]:
    """Customer history without surrogate ids, comparable across runs."""
    query = (
        "SELECT customer_id, plan, monthly_charges, status, cancel_date, valid_from, valid_to, "
        "attrs_hash FROM customers ORDER BY customer_id, valid_from"
    )
    with engine.connect() as conn:
        rows = conn.execute(text(query)).all()
    return [
        tuple(pd.Timestamp(v) if k in (4, 5, 6) and v else v for k, v in enumerate(r)) for r in rows
    ]


def runs(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(ingestion_runs).order_by(ingestion_runs.c.started_at)
        return [dict(r._mapping) for r in conn.execute(query)]


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    write_crm(tmp_path, "2024-01", JAN)
    write_crm(tmp_path, "2024-02", FEB)
    return tmp_path


def test_crm_changes_become_versions_and_reexports_create_nothing(
    engine: Engine, source_dir: Path
) -> None:
    result = ingest_source("crm", engine=engine, source_dir=source_dir)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 5, 1)
    assert result.watermark == datetime(2024, 2, 1)
    history = [(r[0], r[1], r[3], r[5], r[6]) for r in versions(engine)]
    ts = pd.Timestamp
    assert history == [
        ("C0000001", "basic", "active", ts("2024-01-01"), ts("2024-02-03 10:00")),
        ("C0000001", "standard", "active", ts("2024-02-03 10:00"), ts("2024-02-20 09:00")),
        ("C0000001", "standard", "cancelled", ts("2024-02-20 09:00"), None),
        ("C0000002", "premium", "active", ts("2024-01-01"), None),
    ]
    first = versions(engine)[0]
    assert (first[2], first[4]) == (29.9, None)  # the old version keeps its attributes

    write_crm(source_dir, "2024-03", [FEB[1].replace("2024-02-05", "2024-03-07")])
    march = ingest_source("crm", engine=engine, source_dir=source_dir)
    assert (march.window_start, march.rows_read, march.rows_loaded) == (datetime(2024, 2, 1), 1, 1)
    assert [(r[0], r[5], r[6]) for r in versions(engine)] == [(h[0], h[3], h[4]) for h in history]


def test_crm_rerun_of_the_whole_window_changes_nothing(engine: Engine, source_dir: Path) -> None:
    ingest_source("crm", engine=engine, source_dir=source_dir)
    before = versions(engine)
    with engine.connect() as conn:
        quarantined = conn.execute(text("SELECT payload_hash FROM quarantine")).all()
    ingest_source("crm", engine=engine, source_dir=source_dir, window=Window())
    assert versions(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT payload_hash FROM quarantine")).all() == quarantined


def test_crm_months_loaded_out_of_order_give_the_same_history(
    engine: Engine, source_dir: Path
) -> None:
    february = Window(start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    ingest_source("crm", engine=engine, source_dir=source_dir, window=february)
    january = Window(end=datetime(2024, 1, 1))
    ingest_source("crm", engine=engine, source_dir=source_dir, window=january)
    out_of_order = versions(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM customers"))
    ingest_source("crm", engine=engine, source_dir=source_dir, window=Window())
    assert out_of_order == versions(engine)
    assert len(out_of_order) == 4


def test_crm_renamed_column_fails_naming_it_before_any_write(
    engine: Engine, source_dir: Path
) -> None:
    write_crm(
        source_dir, "2024-03", [FEB[0]], header=HEADER.replace("monthly_charges", "monthly_fee")
    )
    with pytest.raises(SchemaMismatchError, match="monthly_charges") as err:
        ingest_source("crm", engine=engine, source_dir=source_dir)
    assert "customers_2024-03.csv" in str(err.value)
    assert err.value.unexpected == ["monthly_fee"]
    assert versions(engine) == []  # not even the two good months
    (run,) = runs(engine)
    assert run["status"] == "failed"
    assert "monthly_charges" in run["error"] and "monthly_fee" in run["error"]


class CrashingCrm(CrmSource):
    """CRM whose publish dies on its second chunk, after the first was merged."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        self.calls += 1
        if self.calls == 2:
            raise ConnectionResetError("warehouse connection lost")
        super().publish(valid, conn, run)


def test_crm_crash_mid_run_then_rerun_equals_a_clean_run(engine: Engine, source_dir: Path) -> None:
    ingest_source(
        "crm", engine=engine, source_dir=source_dir, window=Window(end=datetime(2024, 1, 1))
    )
    after_january = versions(engine)
    with pytest.raises(ConnectionResetError):
        ingest_source(CrashingCrm(), engine=engine, source_dir=source_dir, chunk_rows=1)
    assert versions(engine) == after_january
    ingest_source("crm", engine=engine, source_dir=source_dir, chunk_rows=1)
    crashed_then_rerun = versions(engine)

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM customers"))
    ingest_source("crm", engine=engine, source_dir=source_dir, window=Window())
    assert crashed_then_rerun == versions(engine)
