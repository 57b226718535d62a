"""Helpdesk ingestion: newest ticket state wins, bad lines are quarantined, renamed fields fail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from core.tables import quarantine
from tasks.ingestion import SchemaMismatchError, SourceFormatError, Window, ingest_source


def ticket(tid: str, updated: str, status: str = "open", **extra: Any) -> dict[str, Any]:
    resolved = status == "resolved"
    return {
        "ticket_id": tid,
        "customer_id": "C0000001",
        "created_at": "2024-01-30T09:00:00",
        "updated_at": updated,
        "status": status,
        "category": "billing",
        "priority": "high",
        "resolved_at": updated if resolved else None,
        "satisfaction": 4 if resolved else None,
        **extra,
    }


def write_month(source_dir: Path, month: str, lines: list[str]) -> None:
    folder = source_dir / "helpdesk"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tickets_{month}.jsonl").write_text("\n".join(lines) + "\n")


def tickets(engine: Engine) -> list[tuple[Any, ...]]:
    query = "SELECT ticket_id, status, updated_at, satisfaction FROM tickets ORDER BY ticket_id"
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query))]


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    write_month(
        tmp_path,
        "2024-01",
        [
            json.dumps(ticket("T00000001", "2024-01-30T09:00:00")),
            json.dumps(ticket("T00000002", "2024-01-31T12:00:00")),
            '{"ticket_id": "T00000009", "status": ',
            json.dumps(ticket("T00000003", "2024-01-31T13:00:00", satisfaction=9)),
        ],
    )
    write_month(
        tmp_path,
        "2024-02",
        [
            json.dumps(ticket("T00000001", "2024-02-02T10:00:00", "resolved")),
            json.dumps(ticket("T00000004", "2024-01-29T08:00:00")),  # updated before created
        ],
    )
    return tmp_path


def test_helpdesk_keeps_newest_state_and_quarantines_bad_lines(
    engine: Engine, source_dir: Path
) -> None:
    result = ingest_source("helpdesk", engine=engine, source_dir=source_dir)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 3, 3)
    assert result.watermark == datetime(2024, 2, 1)
    rows = tickets(engine)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("T00000001", "resolved", 4),
        ("T00000002", "open", None),
    ]
    query = select(quarantine.c.natural_key, quarantine.c.raw_payload, quarantine.c.reasons)
    with engine.connect() as conn:
        bad = {r[0]: (r[1], r[2]) for r in conn.execute(query)}
    assert bad[None][0] == '{"ticket_id": "T00000009", "status": '
    assert bad["T00000003"][1] == [{"column": "satisfaction", "check": "le", "value": "9"}]
    assert {(r["column"], r["check"]) for r in bad["T00000004"][1]} == {
        ("updated_at", "not_before_created_at")
    }


def test_helpdesk_older_state_arriving_late_never_overwrites(
    engine: Engine, source_dir: Path
) -> None:
    february = Window(start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    ingest_source("helpdesk", engine=engine, source_dir=source_dir, window=february)
    january = Window(end=datetime(2024, 1, 1))
    ingest_source("helpdesk", engine=engine, source_dir=source_dir, window=january)
    by_id = {r[0]: r for r in tickets(engine)}
    assert by_id["T00000001"][1] == "resolved"
    assert str(by_id["T00000001"][2]).startswith("2024-02-02 10:00:00")
    before = tickets(engine)
    ingest_source("helpdesk", engine=engine, source_dir=source_dir, window=Window())
    assert tickets(engine) == before


def test_helpdesk_renamed_field_fails_before_any_write(engine: Engine, source_dir: Path) -> None:
    renamed = ticket("T00000005", "2024-03-01T10:00:00")
    renamed["client_id"] = renamed.pop("customer_id")
    write_month(source_dir, "2024-03", [json.dumps(renamed)] * 2)
    with pytest.raises(SchemaMismatchError, match="customer_id") as err:
        ingest_source("helpdesk", engine=engine, source_dir=source_dir)
    assert err.value.unexpected == ["client_id"]
    assert tickets(engine) == []


def test_helpdesk_file_that_is_not_json_lines_fails(engine: Engine, tmp_path: Path) -> None:
    write_month(tmp_path, "2024-01", ["ticket_id,customer_id", "T00000001,C0000001"])
    with pytest.raises(SourceFormatError, match="no JSON objects"):
        ingest_source("helpdesk", engine=engine, source_dir=tmp_path)
    assert tickets(engine) == []
