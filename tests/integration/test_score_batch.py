"""score_batch on a real warehouse, MLflow store and Prefect server: every active customer scored
once per (as_of, model version), reruns replace; a failed run notifies the configured block."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from prefect.blocks.abstract import NotificationBlock
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from core.names import CHAMPION
from core.settings import get_settings
from core.tables import churn_scores, online_features
from flows.build_features import build_features
from flows.score_batch import score_batch
from flows.train import train
from tasks.scoring import write_scores
from tests.model.pipeline import build_warehouse


def _count(table: object) -> int:
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]
    engine.dispose()
    return n


def test_score_batch_scores_every_active_customer_once_and_reruns_replace(
    churn_home: Path, prefect_server: str
) -> None:
    build_warehouse(churn_home, customers=600, months=8, seed=3)
    build_features()
    train(min_auc=0.51)
    first = score_batch()
    again = score_batch()
    assert first["rows"] == again["rows"] == _count(online_features) > 300
    assert _count(churn_scores) == first["rows"]  # the rerun replaced, never duplicated

    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    champion = MlflowClient(uri, registry_uri=uri).get_model_version_by_alias(
        settings.model_name, CHAMPION
    )
    engine = make_engine(settings.database_url)
    scores = pd.read_sql(select(churn_scores), engine)
    engine.dispose()
    assert set(scores["model_version"]) == {str(champion.version)}
    assert scores["probability"].between(0, 1).all()
    assert set(scores["risk_band"]) <= {"low", "medium", "high"}
    assert scores["reasons"].map(len).eq(3).all()
    # a failure half-way through a rewrite keeps the previous batch whole
    broken = scores.head(5).copy()
    broken.loc[broken.index[-1], "customer_id"] = None
    with pytest.raises(IntegrityError):
        write_scores(
            broken,
            as_of=list(scores["as_of"].head(5)),
            model_name=settings.model_name,
            model_version=str(champion.version),
            engine=make_engine(settings.database_url),
        )
    assert _count(churn_scores) == first["rows"]


class FileNotification(NotificationBlock):
    """A notification block that appends to a file (stands in for Slack/e-mail in tests)."""

    _block_type_name = "Churn Test File Notification"
    path: str

    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{subject}\n{body}\n")


def test_failed_run_is_sent_to_the_configured_notification_block(
    churn_home: Path, prefect_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.txt"
    FileNotification(path=str(outbox)).save("churn-test-alerts", overwrite=True)
    monkeypatch.setenv("CHURN_NOTIFY_BLOCK", "churn-test-file-notification/churn-test-alerts")
    get_settings.cache_clear()
    state = score_batch(return_state=True)  # no champion in this empty home: fails
    assert state.is_failed()
    text = outbox.read_text()
    assert "score_batch" in text and "no 'champion' version" in text
