"""Ticket history: a ticket's priority or category changed after a cutoff does not change the
features as of that cutoff."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from core.tables import ticket_states
from tasks.features.store import get_historical_features
from tasks.ingestion import ingest_source
from tests.integration.test_ingest_helpdesk import ticket, write_month

CUT, LATER = datetime(2024, 3, 1), datetime(2024, 3, 20)
WATCHED = ["open_urgent_tickets", "urgent_tickets_90d", "cancellation_tickets_90d"]


def _features(engine: Engine) -> pd.DataFrame:
    entity = pd.DataFrame({"customer_id": ["C0000001"] * 2, "as_of": [CUT, LATER]})
    return get_historical_features(entity, engine=engine).set_index("as_of")[WATCHED]


def test_features_at_a_cutoff_keep_the_priority_the_ticket_had_then(
    engine: Engine, tmp_path: Path
) -> None:
    opened = ticket("T00000001", "2024-02-10T09:00:00", priority="low", category="billing")
    write_month(tmp_path, "2024-02", [json.dumps(opened)])
    ingest_source("helpdesk", engine=engine, source_dir=tmp_path)
    before = _features(engine)
    assert before.loc[CUT].tolist() == [0.0, 0.0, 0.0]

    # escalated after the cutoff: urgent, and now about cancelling
    escalated = ticket(
        "T00000001", "2024-03-10T09:00:00", priority="urgent", category="cancellation"
    )
    write_month(tmp_path, "2024-03", [json.dumps(escalated)])
    ingest_source("helpdesk", engine=engine, source_dir=tmp_path)
    after = _features(engine)
    pd.testing.assert_series_equal(after.loc[CUT], before.loc[CUT])  # the past is unchanged
    assert after.loc[LATER].tolist() == [1.0, 1.0, 1.0]  # the present sees the escalation
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ticket_states)).scalar_one() == 2
    ingest_source("helpdesk", engine=engine, source_dir=tmp_path)  # nothing new: no duplicates
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ticket_states)).scalar_one() == 2
