"""The ``ingest`` flow against the session's real Prefect server and a real warehouse."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core.settings import get_settings
from flows.ingest import IngestFlowError, ingest
from tasks.ingestion import SchemaMismatchError
from tasks.ingestion.steps import ingest_source_task

CRM_HEADER = (
    "customer_id,signup_date,plan,contract,payment_method,region,monthly_fee,status,"
    "cancel_date,updated_at"
)


def write_sources(root: Path) -> None:
    """One month per source; the CRM export has ``monthly_charges`` renamed (a contract break)."""
    for folder in ("crm", "billing", "helpdesk"):
        (root / folder).mkdir(parents=True)
    (root / "crm" / "customers_2024-01.csv").write_text(
        CRM_HEADER
        + "\nC0000001,2023-05-01,basic,month-to-month,credit_card,north,29.90,active,,"
        + "2024-01-01T00:00:00\n"
    )
    with sqlite3.connect(root / "billing" / "billing.db") as conn:
        conn.execute(
            "CREATE TABLE billing_events (id INTEGER PRIMARY KEY, txn_ref TEXT, account_id TEXT,"
            " event_type TEXT, amount_cents INTEGER, currency TEXT, created_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO billing_events VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "TXN1", "C0000001", "charge", 2990, "USD", "2024-01-01 10:00:00"),
                (2, "TXN2", "C0000001", "payment", 2990, "USD", "2024-01-02 10:00:00"),
                (3, "TXN3", "C0000001", "charge", -1, "USD", "2024-01-03 10:00:00"),
            ],
        )
    line: dict[str, Any] = {
        "ticket_id": "T00000001",
        "customer_id": "C0000001",
        "created_at": "2024-01-05T10:00:00",
        "updated_at": "2024-01-05T10:00:00",
        "status": "open",
        "category": "billing",
        "priority": "low",
        "resolved_at": None,
        "satisfaction": None,
    }
    (root / "helpdesk" / "tickets_2024-01.jsonl").write_text(json.dumps(line) + "\n")


@pytest.fixture(autouse=True)
def flush_prefect_logs() -> Iterator[None]:
    """Send this test's run logs before the session's server stops (else exit waits on retries)."""
    yield
    APILogWorker.drain_all(timeout=10)


@pytest.fixture
def warehouse_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the settings (and so the flow) at the test warehouse."""
    monkeypatch.setenv("CHURN_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_ingest_flow_loads_sources_and_fails_only_the_broken_one(
    prefect_server: str, warehouse_env: str, engine: Engine, tmp_path: Path
) -> None:
    write_sources(tmp_path)
    state = ingest(source_dir=str(tmp_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(IngestFlowError, match=r"1 of 3 sources failed — crm: .*monthly_charges"):
        state.result()

    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("customers", "transactions", "tickets", "quarantine")
        }
        query = (
            "SELECT source, status, rows_read, rows_loaded, rows_quarantined FROM ingestion_runs"
        )
        runs = conn.execute(text(query)).all()
    assert counts == {"customers": 0, "transactions": 2, "tickets": 1, "quarantine": 1}
    # Exactly one crm run: the contract violation was not retried.
    assert sorted(tuple(r) for r in runs) == [
        ("billing", "succeeded", 3, 2, 1),
        ("crm", "failed", 0, 0, 0),
        ("helpdesk", "succeeded", 1, 1, 0),
    ]
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    tables = {a.key: a for a in artifacts if a.key}
    assert sorted(tables) == ["ingest-billing", "ingest-crm", "ingest-helpdesk"]
    assert {a.type for a in tables.values()} == {"table"}
    billing_row = json.loads(str(tables["ingest-billing"].data))[0]
    assert (billing_row["rows_read"], billing_row["rows_quarantined"]) == (3, 1)
    assert json.loads(str(tables["ingest-crm"].data))[0]["status"] == "failed"


@flow
def attempt(source: str, source_dir: str, database_url: str | None = None) -> tuple[UUID, Any]:
    """Run the ingest task (no retry delay) inside a flow; return its task run id and outcome."""
    quick = ingest_source_task.with_options(retries=2, retry_delay_seconds=0)
    state = quick(source, source_dir, database_url=database_url, return_state=True)
    task_run_id = state.state_details.task_run_id
    assert task_run_id is not None
    return task_run_id, state.result(raise_on_failure=False)


def test_ingest_task_retries_transient_errors_but_not_contract_violations(
    prefect_server: str, warehouse_env: str, tmp_path: Path
) -> None:
    write_sources(tmp_path)
    crm_run, crm_error = attempt("crm", str(tmp_path))
    assert isinstance(crm_error, SchemaMismatchError)
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"
    billing_run, billing_error = attempt("billing", str(tmp_path), database_url=unreachable)
    assert isinstance(billing_error, OperationalError)
    with get_client(sync_client=True) as client:
        attempts = {
            name: client.read_task_run(run_id).run_count
            for name, run_id in (("crm", crm_run), ("billing", billing_run))
        }
    assert attempts == {"crm": 1, "billing": 3}
