import pytest

from tasks.registry import GateDecision
from tasks.training import (
    LoggedRun,
    evaluate_model,
    summarize_training,
    train_model,
    training_markdown,
)
from tests.model.synthetic import SPEC, make_training_set

LOGGED = LoggedRun(run_id="r1", experiment_id="1", model_uri="models:/m-1")


@pytest.fixture(scope="module")
def trained_and_evaluated() -> tuple:
    frame = make_training_set(rows_per_cutoff=150)
    trained = train_model.fn(frame, spec=SPEC, seed=1)
    return trained, evaluate_model.fn(trained, frame)


def test_training_summary_and_markdown_show_decision_metrics_and_champion(
    trained_and_evaluated: tuple,
) -> None:
    trained, evaluation = trained_and_evaluated
    decision = GateDecision("7", "rejected", "roc_auc 0.7500 < champion", 0.75, "5", 0.8123)
    summary = summarize_training(trained, evaluation, LOGGED, decision, model_name="churn-acme")
    assert summary["model_version"] == "7" and summary["previous_champion_auc"] == 0.8123
    assert summary["metrics"] == evaluation.metrics
    assert summary["cutoffs"]["cutoffs.holdout"] == "2024-06-01"
    markdown = training_markdown(summary)
    assert "# churn-acme v7: **rejected**" in markdown  # the configured name, not churn-model
    assert "previous champion v5 re-scored: 0.8123" in markdown
    assert f"| roc_auc | {evaluation.metrics['roc_auc']:.4f} |" in markdown
    assert f"{len(trained.split.train)} training cutoffs" in markdown


def test_training_markdown_without_champion(trained_and_evaluated: tuple) -> None:
    trained, evaluation = trained_and_evaluated
    decision = GateDecision("1", "promoted", "first champion", 0.75, None, None)
    summary = summarize_training(trained, evaluation, LOGGED, decision)
    assert "previous champion: none" in training_markdown(summary)
