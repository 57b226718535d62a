"""The retrain report, the failure notice and the task-runner choice."""

from __future__ import annotations

import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from core.settings import Settings
from ops.runtime import failure_message, make_task_runner
from tasks.orchestration.report import (
    StageRecord,
    mlflow_run_url,
    retrain_markdown,
    stage_summary,
    train_and_deploy_stages,
)

TRAINED = {
    "run_id": "abc123",
    "model_uri": "models:/m-1",
    "model_version": "3",
    "decision": "promoted",
    "reason": "roc_auc 0.81 >= champion v2 0.80 - tolerance 0.01",
    "metrics": {"roc_auc": 0.81},
}


def test_retrain_markdown_names_stages_decision_and_links() -> None:
    stages = [
        StageRecord("ingest", "completed", 12.5, "crm: 10 rows"),
        StageRecord("deploy", "unavailable", 0.0, "no bento build stage"),
    ]
    url = mlflow_run_url("http://mlflow:5000/", "7", "abc123")
    text = retrain_markdown(
        stages=stages, trained=TRAINED, reason="weekly", run_url=url, bento_tag=None, reports=[]
    )
    assert "model v3 **promoted**" in text
    assert "| ingest | completed | 12.5 | crm: 10 rows |" in text
    assert "| deploy | unavailable |" in text
    assert "[abc123](http://mlflow:5000/#/experiments/7/runs/abc123)" in text
    assert "Bento: none built" in text and "holdout ROC-AUC 0.8100" in text


def test_retrain_markdown_shows_bento_tag_and_reports() -> None:
    text = retrain_markdown(
        stages=[],
        trained=TRAINED,
        reason="monitoring",
        run_url=None,
        bento_tag="churn-service:v3",
        reports=["drift: /r/drift.html"],
    )
    assert "`churn-service:v3`" in text and "- drift: /r/drift.html" in text


def test_train_and_deploy_stages_report_the_measured_bento_build() -> None:
    trained = {**TRAINED, "bento": "churn-service:model-v3-ab12", "bento_build_s": 7.25}
    train, deploy = train_and_deploy_stages(30.0, trained)
    assert deploy == StageRecord("deploy", "completed", 7.25, "bento churn-service:model-v3-ab12")
    # the build ran inside the train flow: its time is the deploy stage's, not counted twice
    assert train.name == "train" and train.state == "completed" and train.seconds == 30.0 - 7.25
    assert train.detail.startswith("v3 promoted: ")


def test_train_and_deploy_stages_skip_deploy_without_a_duration_when_not_promoted() -> None:
    trained = {**TRAINED, "decision": "rejected", "reason": "roc_auc 0.70 < min_auc 0.75"}
    train, deploy = train_and_deploy_stages(30.0, trained)
    assert (train.state, train.seconds) == ("completed", 30.0)
    assert (deploy.name, deploy.state, deploy.seconds) == ("deploy", "skipped", None)
    assert stage_summary([train, deploy]) == {
        "train": {"state": "completed", "seconds": 30.0},
        "deploy": {"state": "skipped", "seconds": None},
    }
    text = retrain_markdown(
        stages=[train, deploy],
        trained=trained,
        reason="r",
        run_url=None,
        bento_tag=None,
        reports=[],
    )
    assert "| deploy | skipped | — | gate did not promote the model |" in text


def test_train_and_deploy_stages_refuse_a_promotion_without_a_bento_build() -> None:
    with pytest.raises(ValueError, match=r"promoted v3 but reports no bento build"):
        train_and_deploy_stages(30.0, TRAINED)


def test_failure_message_names_flow_run_and_cause() -> None:
    text = failure_message("retrain", "brave-fox", "train failed: no cutoff")
    assert "'retrain'" in text and "'brave-fox'" in text and "no cutoff" in text


@pytest.mark.parametrize(
    ("runner", "address", "expected"),
    [
        ("threads", None, ThreadPoolTaskRunner),
        ("dask", None, DaskTaskRunner),
        ("dask", "tcp://10.0.0.1:8786", DaskTaskRunner),
    ],
)
def test_make_task_runner_follows_settings(
    runner: str, address: str | None, expected: type
) -> None:
    chosen = make_task_runner(Settings(task_runner=runner, dask_address=address))  # type: ignore[arg-type]
    assert isinstance(chosen, expected)
    if address:
        assert isinstance(chosen, DaskTaskRunner) and chosen.address == address
