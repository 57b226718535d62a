"""Ingesting declared sources on a real warehouse: quarantine, duplicates, conflicts, replace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, inspect, select

from core.locks import database_lock
from core.settings import get_settings
from core.tables import (
    ingestion_runs,
    quarantine,
    source_events,
    source_schemas,
    source_snapshots,
    source_subscriptions,
)
from tasks.declared.pipeline import ingest_source
from tasks.declared.spec import SpecError, load_spec
from tests.declared.files import EVENTS_SPEC, TELCO_SPEC, write_events, write_spec, write_telco

PROJECT = Path(__file__).resolve().parents[2]
CHILD = """
import json, logging, sys
from core.db import make_engine
from tasks.declared.pipeline import ingest_source
from tasks.declared.spec import load_spec

# force: importing Prefect configured the root logger already
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
r = ingest_source(load_spec(sys.argv[2]), engine=make_engine(sys.argv[1]))
print(json.dumps({"loaded": r.rows_loaded, "replaced": r.replaced}))
"""


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def _dirty_telco(folder: Path) -> pd.DataFrame:
    frame = write_telco(folder, rows=60)
    bad = frame.copy()
    bad.loc[3, "MonthlyCharges"] = "abc"  # not a number: quarantined
    bad.loc[4, "Churn"] = ""  # no label: quarantined
    dup = bad.iloc[[5, 6]]  # identical duplicates: collapsed, counted
    clash = bad.iloc[[7]].assign(tenure="99")  # same id, other value: both quarantined
    bad = pd.concat([bad, dup, clash], ignore_index=True)
    bad.to_csv(folder / "telco.csv", index=False)
    return frame


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_snapshot_ingest_quarantines_collapses_and_replaces(
    tmp_path: Path, engine: Engine, chunk_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in chunks of 7 rows, the duplicate and the conflicting row (at the end of the file)
    meet their first rows only across chunks: the same counts, reasons and categories."""
    if chunk_rows is not None:
        import tasks.declared.snapshot as snapshot
        import tasks.declared.source as declared_source

        monkeypatch.setattr(snapshot, "SCAN_CHUNK_ROWS", chunk_rows)
        monkeypatch.setattr(declared_source, "EVENT_CHUNK_ROWS", chunk_rows)
        monkeypatch.setenv("CHURN_CHUNK_ROWS", str(chunk_rows))
        get_settings.cache_clear()
    clean = _dirty_telco(tmp_path)
    spec = load_spec(write_spec(tmp_path, TELCO_SPEC))
    result = ingest_source(spec, engine=engine)
    assert (result.rows_read, result.duplicates, result.rows_quarantined) == (63, 2, 4)
    assert result.rows_loaded == 63 - 2 - 4 == _count(engine, source_snapshots)
    with engine.connect() as conn:
        checks = sorted(
            reason["check"]
            for r in conn.execute(
                select(quarantine.c.reasons).where(quarantine.c.source == "declared:telco")
            )
            for reason in r.reasons
        )
    # the built-in checker's reasons: a blank label is "required", "abc" a "type" failure
    assert checks == ["conflicting_duplicate", "conflicting_duplicate", "required", "type"]
    # reload the corrected file for the same snapshot: it replaces the snapshot
    clean.to_csv(tmp_path / "telco.csv", index=False)
    again = ingest_source(spec, engine=engine)
    assert (again.rows_loaded, again.rows_quarantined, again.duplicates) == (60, 0, 0)
    assert again.replaced == result.rows_loaded
    assert _count(engine, source_snapshots) == 60
    assert _count(engine, ingestion_runs, ingestion_runs.c.source == "declared:telco") == 2
    with engine.connect() as conn:
        stored = conn.execute(select(source_schemas.c.contract)).scalar_one()
    contract = next(c for c in stored["columns"] if c["key"] == "contract")
    assert contract["categories"] == sorted(clean["Contract"].unique())
    get_settings.cache_clear()


def test_snapshot_bad_input_writes_nothing(tmp_path: Path, engine: Engine) -> None:
    frame = write_telco(tmp_path, rows=30)
    frame.loc[2, "Churn"] = "Maybe"
    frame.to_csv(tmp_path / "telco.csv", index=False)
    spec = load_spec(write_spec(tmp_path, TELCO_SPEC))
    with pytest.raises(SpecError, match="maybe") as error:
        ingest_source(spec, engine=engine)
    assert "\n" not in str(error.value)
    for table in (source_snapshots, quarantine):
        assert _count(engine, table) == 0
    with engine.connect() as conn:  # the runner records the failed run, like a built-in one
        runs = conn.execute(select(ingestion_runs.c.status, ingestion_runs.c.error)).all()
    assert len(runs) == 1 and runs[0].status == "failed" and "maybe" in runs[0].error


@pytest.mark.parametrize(("policy", "chunk_rows"), [("collapse", None), ("keep", None),
                                                    ("collapse", 97), ("keep", 97)])  # fmt: skip
def test_events_ingest_checks_rows_and_replaces_on_reload(
    tmp_path: Path,
    engine: Engine,
    policy: str,
    chunk_rows: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Identical event rows are counted either way; kept (the default) they are loaded as
    distinct events, and a reload of the whole history never doubles them. Streamed in chunks of
    97 rows, a duplicate of a row in an earlier chunk counts the same, and the event table's
    indexes, dropped for the load, are there again after it."""
    if chunk_rows is not None:
        import tasks.declared.source as declared_source

        monkeypatch.setattr(declared_source, "EVENT_CHUNK_ROWS", chunk_rows)
        monkeypatch.setenv("CHURN_CHUNK_ROWS", str(chunk_rows))
        get_settings.cache_clear()
    write_events(tmp_path, customers=40)
    part = tmp_path / "events" / "part-1.csv"
    events = pd.read_csv(part, dtype=str, keep_default_na=False)
    events.loc[0, "ts"] = "yesterday"  # unreadable time
    events.loc[1, "amount"] = "ten"  # not a number
    events = pd.concat([events, events.iloc[[2, 3]]])  # identical duplicates
    events.to_csv(part, index=False)
    subs = pd.read_csv(tmp_path / "subscriptions.csv", dtype=str, keep_default_na=False)
    clash = subs.iloc[[0]].assign(ended="2030-01-01")  # same (id, start), other end
    pd.concat([subs, clash]).to_csv(tmp_path / "subscriptions.csv", index=False)
    document = EVENTS_SPEC if policy == "keep" else {**EVENTS_SPEC, "duplicates": policy}
    spec = load_spec(write_spec(tmp_path, document))
    result = ingest_source(spec, engine=engine)
    assert result.duplicates == 2 and spec.keeps_duplicates == (policy == "keep")
    assert result.rows_quarantined == 2 + 2
    collapsed = 0 if policy == "keep" else result.duplicates
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + collapsed
    loaded_events = _count(engine, source_events)
    other = pd.read_csv(tmp_path / "events" / "part-2.csv", dtype=str)
    valid_events = len(events) + len(other) - 2  # the two unreadable rows are quarantined
    assert loaded_events == valid_events - collapsed
    assert _count(engine, source_subscriptions) == 40 - 1
    again = ingest_source(spec, engine=engine)
    assert again.replaced == result.rows_loaded
    assert _count(engine, source_events) == loaded_events
    indexes = {ix["name"] for ix in inspect(engine).get_indexes(source_events.name)}
    assert indexes == {str(ix.name) for ix in source_events.indexes}
    get_settings.cache_clear()


def test_events_chunk_of_only_repeated_rows_is_counted(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk whose every row repeats an earlier chunk's (a file pasted twice) is counted and
    collapsed, and the chunks after it are checked against every row before (it used to leave
    an empty list of seen rows that failed the next chunk with an IndexError)."""
    import tasks.declared.source as declared_source

    monkeypatch.setattr(declared_source, "EVENT_CHUNK_ROWS", 50)
    monkeypatch.setenv("CHURN_CHUNK_ROWS", "50")
    get_settings.cache_clear()
    write_events(tmp_path, customers=20)
    part = tmp_path / "events" / "part-1.csv"
    events = pd.read_csv(part, dtype=str, keep_default_na=False)
    repeated = pd.concat([events.iloc[:50], events.iloc[:50], events.iloc[50:], events.iloc[60:70]])
    repeated.to_csv(part, index=False)
    spec = load_spec(write_spec(tmp_path, {**EVENTS_SPEC, "duplicates": "collapse"}))
    result = ingest_source(spec, engine=engine)
    other = pd.read_csv(tmp_path / "events" / "part-2.csv", dtype=str)
    assert result.duplicates == 50 + 10 and result.rows_quarantined == 0
    assert _count(engine, source_events) == len(events) + len(other)
    assert result.rows_loaded == len(events) + len(other) + _count(engine, source_subscriptions)
    get_settings.cache_clear()


def test_events_line_with_other_fields_than_header_is_quarantined(
    tmp_path: Path, engine: Engine
) -> None:
    write_events(tmp_path, customers=10)
    with (tmp_path / "events" / "part-2.csv").open("a", encoding="utf-8") as out:
        out.write("u1,2024-01-01 00:00:00,view,,one too many\n")
    result = ingest_source(load_spec(write_spec(tmp_path, EVENTS_SPEC)), engine=engine)
    assert result.rows_quarantined == 1
    assert result.rows_read == result.rows_loaded + 1
    with engine.connect() as conn:
        row = conn.execute(select(quarantine.c.raw_payload, quarantine.c.reasons)).one()
    assert "one too many" in row.raw_payload and row.reasons[0]["check"] == "fields"


@pytest.mark.system  # moved out of make test (its 12-minute budget): several processes
def test_concurrent_loads_of_one_source_take_turns(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    # two loads used to replace the snapshot side by side (on PostgreSQL: both inserts kept)
    write_telco(tmp_path, rows=60)
    spec = write_spec(tmp_path, TELCO_SPEC)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with database_lock(db_url, name="ingest-declared:telco", timeout_s=60, what="test"):
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, db_url, str(spec)],
                env=env,
                cwd=PROJECT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for child in children:  # both wait for the source's lock, as a built-in source would
            assert child.stderr is not None
            seen = []
            for line in child.stderr:
                seen.append(line)
                if "declared:telco: ingest: waiting for another process" in line:
                    break
            else:
                raise AssertionError(f"child ended without waiting: {''.join(seen)}")
    outcomes = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted((o["loaded"], o["replaced"]) for o in outcomes) == [(60, 0), (60, 60)]
    assert _count(engine, source_snapshots) == 60
    assert _count(engine, ingestion_runs, ingestion_runs.c.status == "succeeded") == 2
