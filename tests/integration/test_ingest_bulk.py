"""Bulk inserts on a real warehouse: the SQLite JSON statement stores what executemany stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from core.tables import source_events
from tasks.ingestion.bulk import frame_rows, insert_frame, json_rows, write_rows


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array(['a"b', "c\\d", "é☃", "00123"], dtype="string[pyarrow]"),
            "event_time": pd.to_datetime(
                ["2024-01-01 00:00:27", "2024-02-29 23:59:59.123456", "2024-01-01", "1999-12-31"],
                format="ISO8601",
            ),
            "event_type": ["t1", "it's", "a/b", "\u00a0"],
            "value": [np.nan, 0.1 + 0.2, 5.0, -1e-7],
        }
    )


def test_insert_frame_stores_what_executemany_stores(engine: Engine) -> None:
    frame = _events()
    with engine.begin() as conn:
        insert_frame(conn, source_events, frame, {"source": "bulk", "run_id": "r"})
        rows = frame.assign(source="many", run_id="r")
        write_rows(conn, source_events.name, list(rows.columns), frame_rows(rows, source_events))
    columns = [c for c in source_events.c if c.name not in ("id", "source")]
    with engine.connect() as conn:
        stored = conn.execute(select(source_events.c.source, *columns).order_by("id")).all()
    bulk = [tuple(r[1:]) for r in stored if r.source == "bulk"]
    assert len(bulk) == 4 and bulk == [tuple(r[1:]) for r in stored if r.source == "many"]


def test_json_rows_leaves_what_json_cannot_say_to_executemany() -> None:
    assert json_rows(_events().assign(value=[np.inf, 1, 2, 3]), source_events) is None
    assert json_rows(_events().assign(event_type=["a\x01", "b", "c", "d"]), source_events) is None
