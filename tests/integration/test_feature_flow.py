"""The build_features flow against a real Prefect server and a real warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from sqlalchemy import Engine, func, select

from core.settings import get_settings
from core.tables import online_features
from flows.build_features import build_features
from tasks.features.definitions import FEATURES
from tests.integration.test_features_reference import AS_OF, DAY, History, version, write_history


def test_build_features_flow_materializes_and_reports(
    prefect_server: str,
    churn_home: Path,
    db_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHURN_DATABASE_URL", db_url)
    get_settings.cache_clear()
    history = History(
        versions=[
            version("C1", AS_OF - 200 * DAY, None),
            version("C2", AS_OF - 100 * DAY, None, cancel_date=(AS_OF + 10 * DAY).date()),
            version("C3", AS_OF - 90 * DAY, None, cancel_date=(AS_OF - 5 * DAY).date()),
        ],
        txns=[
            {"txn_id": "t1", "customer_id": "C1", "txn_type": "charge", "amount": 30.0,
             "occurred_at": AS_OF - 3 * DAY},
        ],
    )  # fmt: skip
    write_history(engine, history)

    state = build_features(return_state=True)  # as_of defaults to the watermark (t1)
    summary = state.result()

    assert summary["rows"] == 2  # C3 cancelled before the watermark
    assert summary["as_of"] == (AS_OF - 3 * DAY).isoformat()
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(online_features)).scalar_one()
    assert stored == 2
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    by_key = {a.key: a for a in artifacts}
    assert "customers materialized | 2" in str(by_key["feature-store"].data)
    table = by_key["feature-null-rates"].data
    assert all(fd.name in str(table) for fd in FEATURES)
