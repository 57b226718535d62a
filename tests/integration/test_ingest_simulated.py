"""End to end on a small simulated business: every invalid row the simulator planted is
quarantined, every valid one loaded, and the CRM format-change scenario fails the CRM run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import simulator
from tasks.ingestion import SchemaMismatchError, ingest_source

SOURCES = ("crm", "billing", "helpdesk")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulator.simulate(simulator.SimConfig(customers=300, months=3, seed=7), out)
    return out


def test_simulated_sources_load_with_exactly_the_planted_rows_quarantined(
    engine: Engine, simulated: Path
) -> None:
    manifest = json.loads((simulated / "manifest.json").read_text())
    results = {s: ingest_source(s, engine=engine, source_dir=simulated) for s in SOURCES}
    for source, result in results.items():
        planted = sum(manifest["dirty"][source].values())
        assert result.rows_quarantined == planted, source
        assert result.rows_loaded + result.rows_quarantined == result.rows_read, source
    counts = manifest["counts"]
    with engine.connect() as conn:
        one = conn.execute
        assert (
            one(text("SELECT count(DISTINCT customer_id) FROM customers")).scalar_one()
            == (counts["customers"])
        )
        assert one(text("SELECT count(*) FROM tickets")).scalar_one() == counts["tickets"]
        loaded_events = results["billing"].rows_loaded - counts["billing_duplicates"]
        assert one(text("SELECT count(*) FROM transactions")).scalar_one() == loaded_events
        assert (
            one(text("SELECT count(*) FROM customers WHERE valid_to IS NULL")).scalar_one()
            == (counts["customers"])
        )
    again = {s: ingest_source(s, engine=engine, source_dir=simulated) for s in SOURCES}
    assert {s: r.rows_loaded for s, r in again.items()} == {"crm": 0, "billing": 0, "helpdesk": 0}


def test_simulated_format_change_fails_crm_naming_the_column(
    engine: Engine, tmp_path: Path
) -> None:
    config = simulator.SimConfig(customers=50, months=3, seed=3, format_change_month=2)
    simulator.simulate(config, tmp_path)
    with pytest.raises(SchemaMismatchError, match="monthly_charges"):
        ingest_source("crm", engine=engine, source_dir=tmp_path)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
