"""Retraining decision: persistent drift or measured performance loss, never one noisy window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitoring.trigger import RetrainDecision, RunVerdict, TriggerPolicy, decide_retrain

NOW = datetime(2025, 3, 1, 12)
POLICY = TriggerPolicy(k_runs=3, min_roc_auc=0.7, min_labelled=100, cooldown=timedelta(days=7))


def _history(*drift: bool) -> list[RunVerdict]:
    start = NOW - timedelta(hours=len(drift))
    return [
        RunVerdict(start + timedelta(hours=i), d, ("monthly_charges",) if d else ())
        for i, d in enumerate(drift)
    ]


def _decide(
    history: list[RunVerdict],
    *,
    roc_auc: float | None = None,
    labelled: int = 0,
    last_retrain: datetime | None = None,
) -> RetrainDecision:
    return decide_retrain(
        history,
        roc_auc=roc_auc,
        labelled=labelled,
        last_retrain=last_retrain,
        now=NOW,
        policy=POLICY,
    )


def test_decide_retrain_single_noisy_window_does_not_retrain() -> None:
    decision = _decide(_history(False, False, True))
    assert not decision.retrain
    assert "1 of the last 3" in decision.reason


def test_decide_retrain_interrupted_drift_does_not_retrain() -> None:
    assert not _decide(_history(True, False, True)).retrain


def test_decide_retrain_persistent_drift_retrains_naming_features() -> None:
    history = _history(True, True, True)
    history[0] = RunVerdict(history[0].at, True, ("monthly_charges", "last_charge"))
    decision = _decide(history)
    assert decision.retrain
    assert decision.drifted_features == ["monthly_charges"]
    assert "3 consecutive" in decision.reason


def test_decide_retrain_cooldown_blocks_persistent_drift() -> None:
    decision = _decide(_history(True, True, True), last_retrain=NOW - timedelta(days=2))
    assert not decision.retrain
    assert "cooldown" in decision.reason
    assert _decide(_history(True, True, True), last_retrain=NOW - timedelta(days=8)).retrain


@pytest.mark.parametrize(
    ("auc", "labelled", "retrain"),
    [(0.65, 150, True), (0.65, 99, False), (0.75, 5000, False)],
)
def test_decide_retrain_performance_needs_enough_labels(
    auc: float, labelled: int, retrain: bool
) -> None:
    decision = _decide(_history(False), roc_auc=auc, labelled=labelled)
    assert decision.retrain is retrain


def test_trigger_policy_rejects_zero_runs() -> None:
    with pytest.raises(ValueError, match="k_runs"):
        TriggerPolicy(k_runs=0)
