"""The replay's parts without a platform: revealing exports, weeks, the timeline."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from simulator import simulate
from simulator.config import SimConfig
from simulator.reveal import reveal
from tasks.replay.timeline import WeekRow, timeline_markdown, timeline_rows, week_ends


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    simulate(SimConfig(customers=60, months=3, seed=3), out)
    return out


def _billing_max(exports: Path) -> str:
    with sqlite3.connect(exports / "billing" / "billing.db") as conn:
        return str(conn.execute("SELECT max(created_at) FROM billing_events").fetchone()[0])


def test_reveal_shows_rows_up_to_the_moment_only(history: Path, tmp_path: Path) -> None:
    until = datetime(2024, 2, 10)
    reveal(history, tmp_path, until)
    assert (tmp_path / "crm" / "customers_2024-01.csv").read_bytes() == (
        history / "crm" / "customers_2024-01.csv"
    ).read_bytes()
    partial = (tmp_path / "crm" / "customers_2024-02.csv").read_text().splitlines()
    assert (
        1 < len(partial) < len((history / "crm" / "customers_2024-02.csv").read_text().splitlines())
    )
    assert all(line.rsplit(",", 1)[1] <= until.isoformat() for line in partial[1:])
    assert not (tmp_path / "crm" / "customers_2024-03.csv").exists()
    assert _billing_max(tmp_path) <= "2024-02-10 00:00:00"


def test_reveal_again_later_completes_and_adds_nothing_twice(history: Path, tmp_path: Path) -> None:
    reveal(history, tmp_path, datetime(2024, 2, 10))
    first = reveal(history, tmp_path, datetime(2024, 4, 1))
    again = reveal(history, tmp_path, datetime(2024, 4, 1))
    assert first.billing_events > 0 and again.billing_events == 0 and again.file_rows == 0
    for folder in ("crm", "helpdesk"):
        for path in (history / folder).iterdir():
            assert (tmp_path / folder / path.name).read_bytes() == path.read_bytes()
    with (
        sqlite3.connect(tmp_path / "billing" / "billing.db") as conn,
        sqlite3.connect(history / "billing" / "billing.db") as full,
    ):
        query = "SELECT * FROM billing_events ORDER BY id"
        assert conn.execute(query).fetchall() == full.execute(query).fetchall()


def test_week_ends_whole_weeks_only() -> None:
    weeks = week_ends(datetime(2024, 7, 1), datetime(2024, 8, 1))
    assert weeks == [datetime(2024, 7, d) for d in (8, 15, 22, 29)]


def _row(week: int, wall_s: float) -> WeekRow:
    return WeekRow(
        week=week,
        until=datetime(2024, 7, 1 + 7 * week),
        data_as_of="2024-07-08T00:00:00",
        drift_share=0.25,
        drift=week > 1,
        roc_auc=None,
        labelled=0,
        served="1",
        champion="1",
        requests=20,
        failed=0,
        retrain_requested=False,
        decision="no drift | in this run",
        wall_s=wall_s,
    )


def test_timeline_rows_leave_out_wall_clock_only() -> None:
    one, two = [_row(1, 3.0), _row(2, 4.0)], [_row(1, 9.5), _row(2, 1.0)]
    assert timeline_rows(one) == timeline_rows(two)
    assert "wall_s" not in timeline_rows(one)[0]
    assert timeline_rows(one) != timeline_rows([_row(1, 3.0), _row(3, 4.0)])


def test_timeline_markdown_one_line_per_week() -> None:
    text = timeline_markdown([_row(1, 3.0), _row(2, 4.0)], title="t")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 3  # header + 2 weeks
    assert "no drift / in this run" in text  # a pipe in a reason does not break the table
