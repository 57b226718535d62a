"""No silent gaps: empty export files are refused by name, undecodable lines are quarantined
with their exact line number and byte offset (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from core.tables import quarantine
from tasks.ingestion import EmptySourceFileError, ingest_source
from tasks.ingestion.runs import last_watermark

CRM_HEADER = (
    "customer_id,signup_date,plan,contract,payment_method,region,monthly_charges,status,"
    "cancel_date,updated_at"
)


def crm_line(n: int, month: str) -> str:
    return (
        f"C{n:07d},2023-05-01,basic,month-to-month,credit_card,north,{20 + n % 50}.90,active,,"
        f"{month}-02T00:00:00"
    )


def ticket_line(n: int, month: str) -> str:
    stamp = f"{month}-03T10:00:00"
    return json.dumps(
        {
            "ticket_id": f"T{n:08d}",
            "customer_id": f"C{n:07d}",
            "created_at": stamp,
            "updated_at": stamp,
            "status": "open",
            "category": "billing",
            "priority": "low",
            "resolved_at": None,
            "satisfaction": None,
        }
    )


def write_crm(root: Path, month: str, body: bytes | None = None, rows: int = 3) -> Path:
    path = root / "crm" / f"customers_{month}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [CRM_HEADER, *(crm_line(n, month) for n in range(1, rows + 1))]
    path.write_bytes(body if body is not None else ("\n".join(lines) + "\n").encode())
    return path


def write_helpdesk(root: Path, month: str, body: bytes | None = None, rows: int = 3) -> Path:
    path = root / "helpdesk" / f"tickets_{month}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [ticket_line(n, month) for n in range(1, rows + 1)]
    path.write_bytes(body if body is not None else ("\n".join(lines) + "\n").encode())
    return path


Writer = Callable[..., Path]
EMPTY_CASES = [
    ("crm", write_crm, (CRM_HEADER + "\n").encode(), "a header but no data rows"),
    ("crm", write_crm, b"", "no CSV header line"),
    ("helpdesk", write_helpdesk, b"", "no data lines"),
    ("helpdesk", write_helpdesk, b"\n  \n", "no data lines"),
]


@pytest.mark.parametrize(("source", "write", "body", "what"), EMPTY_CASES)
def test_empty_export_fails_naming_the_file_and_keeps_the_watermark(
    engine: Engine, tmp_path: Path, source: str, write: Writer, body: bytes, what: str
) -> None:
    write(tmp_path, "2024-01")
    assert ingest_source(source, engine=engine, source_dir=tmp_path).rows_loaded == 3
    empty = write(tmp_path, "2024-02", body)
    write(tmp_path, "2024-03")
    with pytest.raises(EmptySourceFileError) as caught:
        ingest_source(source, engine=engine, source_dir=tmp_path)
    message = str(caught.value)
    assert f"file {empty} has {what}" in message
    assert message.count(f"{source}:") == 1
    assert last_watermark(engine, source) == datetime(2024, 1, 1)  # March did not skip February
    write(tmp_path, "2024-02")  # the export is redone: both months load on the next run
    result = ingest_source(source, engine=engine, source_dir=tmp_path)
    assert (result.rows_read, result.watermark) == (6, datetime(2024, 3, 1))


@pytest.mark.parametrize(("source", "write"), [("crm", write_crm), ("helpdesk", write_helpdesk)])
def test_undecodable_line_is_quarantined_with_line_and_byte(
    engine: Engine, tmp_path: Path, source: str, write: Writer
) -> None:
    path = write(tmp_path, "2024-01", rows=1500)
    data = path.read_bytes()
    line_no = 1401 if source == "crm" else 1400  # record 1400; CRM has a header line first
    start = sum(len(x) for x in data.splitlines(keepends=True)[: line_no - 1])
    bad_at = start + 12  # inside the record, well past the first 100 KB
    broken = data[:bad_at] + b"\xff" + data[bad_at + 1 :]
    path.write_bytes(broken)
    assert bad_at > 100_000

    result = ingest_source(source, engine=engine, source_dir=tmp_path, chunk_rows=128)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1500, 1499, 1)
    with engine.connect() as conn:
        (row,) = conn.execute(select(quarantine.c.raw_payload, quarantine.c.reasons)).all()
    assert row.reasons == [
        {
            "column": None,
            "check": "encoding",
            "value": f"line {line_no}, byte {bad_at}: invalid start byte (0xff)",
        }
    ]
    assert "\\xff" in row.raw_payload
    table = "customers" if source == "crm" else "tickets"
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1499
