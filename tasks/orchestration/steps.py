"""Prefect tasks of the retrain flow: its closing report."""

from __future__ import annotations

from typing import Any

from mlflow import MlflowClient
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from core.names import DEFAULT_MODEL_NAME, artifact_key
from core.settings import get_settings
from tasks.orchestration.report import StageRecord, mlflow_run_url, retrain_markdown, table_outcome
from tasks.retries import retry_if


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_if())
def publish_retrain_report(
    *,
    stages: list[StageRecord],
    trained: dict[str, Any],
    reason: str,
    bento_tag: str | None = None,
    reports: list[str] | None = None,
) -> str:
    """Attach the retrain summary (stages, gate decision, links) to the flow run as markdown."""
    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    run = MlflowClient(tracking_uri=uri, registry_uri=uri).get_run(trained["run_id"])
    markdown = retrain_markdown(
        stages=stages,
        trained=trained,
        reason=reason,
        run_url=mlflow_run_url(settings.mlflow_ui_url, run.info.experiment_id, run.info.run_id),
        bento_tag=bento_tag,
        reports=reports or [],
    )
    name = trained.get("model_name", DEFAULT_MODEL_NAME)
    create_markdown_artifact(
        key=artifact_key("retrain-summary", name),
        markdown=markdown,
        description=f"{name} v{trained['model_version']}: {trained['decision']}",
    )
    return markdown


@task(cache_policy=NONE)
def declared_training_outcome(summary: dict[str, Any]) -> dict[str, Any]:
    """The declare flow's summary in the train flow's shape (``tasks.orchestration.report``)."""
    return table_outcome(summary)
