"""The simulator's files: determinism, clean overwrite, formats of docs/sources.md, dirty counts."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator import SimConfig, SimSummary, simulate
from simulator.__main__ import main
from simulator.config import (
    CATEGORIES,
    CONTRACTS,
    CRM_COLUMNS,
    EVENT_TYPES,
    HELPDESK_FIELDS,
    PAYMENT_METHODS,
    PLANS,
    PRIORITIES,
    REGIONS,
)

SMALL = SimConfig(customers=300, months=6, seed=42)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimSummary]:
    out = tmp_path_factory.mktemp("small")
    return out, simulate(SMALL, out)


def test_same_seed_gives_identical_files(small: tuple[Path, SimSummary], tmp_path: Path) -> None:
    out, _ = small
    again = simulate(SMALL, tmp_path / "again")
    assert _tree(out) == _tree(tmp_path / "again")
    assert again.end == datetime(2024, 7, 1)


def test_different_seed_gives_different_files(
    small: tuple[Path, SimSummary], tmp_path: Path
) -> None:
    out, _ = small
    simulate(SMALL.model_copy(update={"seed": 43}), tmp_path)
    first, other = _tree(out), _tree(tmp_path)
    assert first.keys() == other.keys()
    for name in (
        "crm/customers_2024-01.csv",
        "billing/billing.db",
        "helpdesk/tickets_2024-03.jsonl",
    ):
        assert first[name] != other[name]


def test_rerun_into_a_used_folder_overwrites_cleanly(
    small: tuple[Path, SimSummary], tmp_path: Path
) -> None:
    out, _ = small
    simulate(SMALL.model_copy(update={"months": 8, "seed": 5}), tmp_path)
    (tmp_path / "notes.txt").write_text("not the simulator's")
    simulate(SMALL, tmp_path)
    tree = _tree(tmp_path)
    assert tree.pop("notes.txt") == b"not the simulator's"
    assert tree == _tree(out)  # nothing left from the 8-month run


def _crm_rows(out: Path) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for path in sorted((out / "crm").glob("customers_*.csv")):
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            assert next(reader) == list(CRM_COLUMNS)
            rows += [(path.name, dict(zip(CRM_COLUMNS, r, strict=True))) for r in reader]
    return rows


def _parse(value: str | None, fmt: str) -> bool:
    try:
        datetime.strptime(value or "", fmt)
    except ValueError:
        return False
    return True


def _crm_problem(r: dict[str, str]) -> str | None:
    """The docs' CRM rules; the kind of problem, as the simulator names it."""
    if not re.fullmatch(r"C\d{7}", r["customer_id"]):
        return "missing_customer_id"
    enums = ((PLANS, "plan"), (CONTRACTS, "contract"), (PAYMENT_METHODS, "payment_method"))
    enums += ((REGIONS, "region"), (("active", "cancelled"), "status"))
    if any(r[col] not in allowed for allowed, col in enums):
        return "bad_enum"
    if not re.fullmatch(r"-?\d+\.\d\d", r["monthly_charges"]):
        return "non_numeric_charges"
    if not 0 < float(r["monthly_charges"]) < 1000:
        return "negative_charges"
    if not _parse(r["updated_at"], "%Y-%m-%dT%H:%M:%S"):
        return "malformed_timestamp"
    assert _parse(r["signup_date"], "%Y-%m-%d")
    assert r["signup_date"] <= r["updated_at"][:10]
    if r["status"] == "cancelled" and not r["cancel_date"]:
        return "cancelled_without_cancel_date"
    if r["status"] == "cancelled":
        assert _parse(r["cancel_date"], "%Y-%m-%d") and r["cancel_date"] == r["updated_at"][:10]
    else:
        assert r["cancel_date"] == ""
    return None


def test_crm_exports_follow_the_contract(small: tuple[Path, SimSummary]) -> None:
    out, summary = small
    rows = _crm_rows(out)
    assert len(rows) == summary.crm_rows
    problems = Counter(p for _, r in rows if (p := _crm_problem(r)))
    assert problems == Counter({k: v for k, v in summary.dirty["crm"].items() if v})
    valid = [(f, r) for f, r in rows if _crm_problem(r) is None]
    for name, r in valid:  # each row is dated in its file's month, files sorted by updated_at
        assert name == f"customers_{r['updated_at'][:7]}.csv" or (
            name == "customers_2024-01.csv" and r["updated_at"] < "2024-01"
        )
    first = [r for f, r in valid if f == "customers_2024-01.csv"]
    assert sum(r["updated_at"] < "2024-01-01" for r in first) == SMALL.customers  # the base


def _billing(out: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = sqlite3.connect(out / "billing" / "billing.db")
    columns = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(billing_events)")]
    indexes = [r[1] for r in con.execute("PRAGMA index_list(billing_events)")]
    indexed = [con.execute(f"PRAGMA index_info({i})").fetchall()[0][2] for i in indexes]
    rows = con.execute("SELECT * FROM billing_events ORDER BY id").fetchall()
    con.close()
    assert columns == [
        ("id", "INTEGER"),
        ("txn_ref", "TEXT"),
        ("account_id", "TEXT"),
        ("event_type", "TEXT"),
        ("amount_cents", "INTEGER"),
        ("currency", "TEXT"),
        ("created_at", "TEXT"),
    ]
    assert "created_at" in indexed
    return columns, rows


def _billing_problem(row: tuple[Any, ...]) -> str | None:
    _, ref, account, etype, amount, currency, created = row
    assert ref and currency == "USD"
    if not account:
        return "missing_account_id"
    assert re.fullmatch(r"C\d{7}", account)
    if etype not in EVENT_TYPES:
        return "bad_event_type"
    if not isinstance(amount, int):
        return "non_numeric_amount"
    if amount < 0:
        return "negative_amount"
    if not _parse(created, "%Y-%m-%d %H:%M:%S"):
        return "malformed_timestamp"
    return None


def test_billing_database_follows_the_contract(small: tuple[Path, SimSummary]) -> None:
    out, summary = small
    _, rows = _billing(out)
    assert len(rows) == summary.billing_events
    problems = Counter(p for r in rows if (p := _billing_problem(r)))
    assert problems == Counter({k: v for k, v in summary.dirty["billing"].items() if v})
    by_ref: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_ref.setdefault(r[1], []).append(r[1:])
    twice = [copies for copies in by_ref.values() if len(copies) > 1]
    assert all(len(c) == 2 and c[0] == c[1] for c in twice)  # duplicates are identical rows
    assert len(twice) == summary.billing_duplicates > 0
    valid = [r for r in rows if _billing_problem(r) is None]
    assert all(r[6] < "2024-07-01" for r in valid)
    kinds = Counter(r[3] for r in valid)
    assert kinds["charge"] > 0 and kinds["payment"] > 0 and kinds["failed_payment"] > 0


def _helpdesk_problem(line: str) -> str | None:
    try:
        d = json.loads(line)
    except json.JSONDecodeError:
        return "malformed_json"
    if not d.get("customer_id"):
        return "missing_customer_id"
    assert list(d) == list(HELPDESK_FIELDS)
    assert re.fullmatch(r"T\d{8}", d["ticket_id"])
    if d["category"] not in CATEGORIES or d["priority"] not in PRIORITIES:
        return "bad_enum"
    if d["status"] not in ("open", "resolved"):
        return "bad_enum"
    if not _parse(d["created_at"], "%Y-%m-%dT%H:%M:%S"):
        return "malformed_timestamp"
    if d["satisfaction"] is not None and not 1 <= d["satisfaction"] <= 5:
        return "satisfaction_out_of_range"
    assert d["updated_at"] >= d["created_at"]
    if d["status"] == "open":
        assert d["resolved_at"] is None and d["satisfaction"] is None
        assert d["updated_at"] == d["created_at"]
    else:
        assert d["resolved_at"] == d["updated_at"]
    return None


def test_helpdesk_files_follow_the_contract(small: tuple[Path, SimSummary]) -> None:
    out, summary = small
    files = sorted((out / "helpdesk").glob("tickets_*.jsonl"))
    assert [f.name for f in files] == [f"tickets_2024-0{m}.jsonl" for m in range(1, 7)]
    lines = [(f.name, line) for f in files for line in f.read_text().splitlines()]
    assert len(lines) == summary.helpdesk_lines
    problems = Counter(p for _, line in lines if (p := _helpdesk_problem(line)))
    assert problems == Counter({k: v for k, v in summary.dirty["helpdesk"].items() if v})
    valid = [(n, json.loads(x)) for n, x in lines if _helpdesk_problem(x) is None]
    assert all(n == f"tickets_{d['updated_at'][:7]}.jsonl" for n, d in valid)
    opened = {d["ticket_id"] for _, d in valid if d["status"] == "open"}
    assert len(opened) == summary.tickets
    assert {d["ticket_id"] for _, d in valid if d["status"] == "resolved"} <= opened


def test_manifest_lists_files_scenarios_and_dirty_counts(small: tuple[Path, SimSummary]) -> None:
    out, summary = small
    manifest = json.loads((out / "manifest.json").read_text())
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    assert manifest["seed"] == 42 and manifest["customers"] == 300 and manifest["months"] == 6
    assert manifest["start"] == "2024-01-01T00:00:00" and manifest["end"] == "2024-07-01T00:00:00"
    assert manifest["scenarios"] == {"drift": None, "format_change": None}
    assert manifest["dirty"]["crm"]["bad_enum"] == summary.dirty["crm"].get("bad_enum", 0)
    for source in ("crm", "billing", "helpdesk"):
        assert manifest["dirty_totals"][source] == summary.dirty_total(source)
        per_file = sum(
            s["dirty"] for f, s in manifest["file_stats"].items() if f.startswith(source)
        )
        assert per_file == summary.dirty_total(source)
    assert sum(summary.dirty_total(s) for s in ("crm", "billing", "helpdesk")) > 0


def test_truth_tables(small: tuple[Path, SimSummary]) -> None:
    out, summary = small
    months = pq.read_table(out / "truth" / "customer_months.parquet").to_pandas()
    assert list(months.columns[:4]) == ["customer_id", "month_start", "hazard", "churned_next_30d"]
    assert months["hazard"].between(0, 1).all()
    assert sorted(months["month_start"].unique()) == [date(2024, m, 1) for m in range(1, 7)]
    assert (months["month_start"] == date(2024, 1, 1)).sum() == SMALL.customers
    customers = pq.read_table(out / "truth" / "customers.parquet").to_pandas()
    assert len(customers) == summary.customers
    assert customers["cancel_at"].notna().sum() == summary.churned


def test_cli_writes_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--customers", "50", "--months", "2", "--out", str(tmp_path), "--seed", "1"]) == 0
    assert "oracle ROC-AUC" in capsys.readouterr().out
    assert (tmp_path / "manifest.json").is_file()
    assert main(["--months", "3", "--drift-month", "4", "--out", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()  # one line naming the bad value
    assert line.startswith("python -m simulator: error: ") and "drift" in line


def test_cli_defaults_to_the_settings_sources_dir(churn_home: Path) -> None:
    assert main(["--customers", "20", "--months", "1", "--quiet"]) == 0
    assert (churn_home / "sources" / "billing" / "billing.db").is_file()
