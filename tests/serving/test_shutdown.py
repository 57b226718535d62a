"""Graceful shutdown writes every queued prediction: N answered requests, SIGTERM, N rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core.db import make_engine
from core.tables import online_features, prediction_log
from tests.serving.conftest import Stack, start_server, stop_server


def test_sigterm_flushes_every_prediction_to_the_log(
    serving_stack: Stack, outside_dir: Path, tmp_path: Path
) -> None:
    # a private copy of the warehouse, so the rows counted are this server's alone
    copy = tmp_path / "warehouse.db"
    source = sqlite3.connect(str(make_url(serving_stack.database_url).database))
    target = sqlite3.connect(str(copy))
    source.backup(target)
    source.close()
    target.close()
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(prediction_log.delete())
        ids = conn.execute(select(online_features.c.customer_id).limit(30)).scalars().all()
    server = start_server(
        serving_stack.tag, {**serving_stack.env, "CHURN_DATABASE_URL": url}, outside_dir
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            answered = [
                client.post("/predict", json={"customer_ids": [cid]}).json()["request_id"]
                for cid in ids
            ]
    finally:
        assert stop_server(server) == 0, server.log.read_text()[-3000:]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                prediction_log.c.request_id, prediction_log.c.customer_id, prediction_log.c.as_of
            )
        ).all()
        assert conn.execute(select(func.count()).select_from(prediction_log)).scalar_one() == len(
            ids
        )
    engine.dispose()
    assert sorted(r.request_id for r in rows) == sorted(answered)
    assert sorted(r.customer_id for r in rows) == sorted(ids)
    assert all(r.as_of is not None for r in rows)
