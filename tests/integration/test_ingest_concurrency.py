"""Two ingest processes of the same source on one warehouse take turns: the later one waits,
then loads nothing twice (SQLite lock file, PostgreSQL advisory lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from core.locks import database_lock
from tests.integration.test_ingest_gaps import write_crm

PROJECT = Path(__file__).resolve().parents[2]
CHILD = """
import json, logging, sys
from pathlib import Path
from core.db import make_engine
from tasks.ingestion import ingest_source

logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
engine = make_engine(sys.argv[1])
r = ingest_source("crm", engine=engine, source_dir=Path(sys.argv[2]))
print(json.dumps({"read": r.rows_read, "loaded": r.rows_loaded, "waited": r.waited_s}))
"""


def _start(db_url: str, source_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(source_dir)],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_blocked(proc: subprocess.Popen[str]) -> list[str]:
    """Read the child's log until it says it is waiting for the other run."""
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if "crm: ingest: waiting for another process" in line:
            return seen
    raise AssertionError(f"child ended without waiting: {''.join(seen)}")


def test_concurrent_ingests_of_one_source_serialize(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    write_crm(tmp_path, "2024-01", rows=40)
    write_crm(tmp_path, "2024-02", rows=40)
    # Hold the source's lock while both start, so both are certain to contend for it.
    with database_lock(db_url, name="ingest-crm", timeout_s=60, what="test"):
        children = [_start(db_url, tmp_path) for _ in range(2)]
        for child in children:
            _wait_until_blocked(child)
    outcomes = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted((o["read"], o["loaded"]) for o in outcomes) == [(0, 0), (80, 80)]
    assert all(o["waited"] > 0 for o in outcomes)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT count(*) FROM customers")).scalar_one()
        runs = conn.execute(
            text("SELECT status, rows_loaded FROM ingestion_runs ORDER BY rows_loaded")
        ).all()
    assert versions == 40  # 40 customers, unchanged in February: one version each, none doubled
    assert [tuple(r) for r in runs] == [("succeeded", 0), ("succeeded", 80)]
