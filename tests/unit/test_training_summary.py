from datetime import datetime

import numpy as np

from tasks.registry import GateDecision
from tasks.training import compute_metrics, training_markdown


def _summary(decision: GateDecision) -> dict:
    metrics = compute_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    return {
        "run_id": "r1",
        "model_uri": "models:/m-1",
        "model_version": decision.version,
        "decision": decision.decision,
        "reason": decision.reason,
        "previous_champion": decision.champion_version,
        "previous_champion_auc": decision.champion_auc,
        "metrics": metrics,
        "rows": {"train": 8, "valid": 2, "holdout": 4},
        "cutoffs": {
            "cutoffs.train": "2024-01-01,2024-02-01",
            "cutoffs.validation": "2024-03-01",
            "cutoffs.holdout": datetime(2024, 4, 1).date().isoformat(),
        },
    }


def test_training_markdown_shows_decision_metrics_and_champion() -> None:
    decision = GateDecision("7", "rejected", "roc_auc 0.7500 < champion", 0.75, "5", 0.8123)
    markdown = training_markdown(_summary(decision))
    assert "churn-model v7: **rejected**" in markdown
    assert "previous champion v5 re-scored: 0.8123" in markdown
    assert "| roc_auc | 0.7500 |" in markdown
    assert "2 training cutoffs" in markdown


def test_training_markdown_without_champion() -> None:
    decision = GateDecision("1", "promoted", "first champion", 0.75, None, None)
    assert "previous champion: none" in training_markdown(_summary(decision))
