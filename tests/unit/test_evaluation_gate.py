import pytest

from core.names import LEGACY_MIN_AUC
from tasks.registry import GateDecision, Rescore, decide_promotion


def _decide(candidate: float, *rescores: Rescore, **kw: float | None) -> GateDecision:
    params = {"min_auc": 0.75, "tolerance": 0.01} | kw
    return decide_promotion(version="9", candidate_auc=candidate, rescores=rescores, **params)


def _first(candidate: float, *rescores: Rescore, **kw: float | None) -> GateDecision:
    """The default settings: no absolute floor, a baseline scored on the same holdout."""
    return _decide(candidate, *rescores, **({"min_auc": None, "baseline_auc": 0.70} | kw))


def _scored(version: str, auc: float) -> Rescore:
    return Rescore(version, auc, comparable=True, note="")


def test_decide_promotion_below_min_auc_is_rejected_even_without_champion() -> None:
    decision = _decide(0.74)
    assert decision.decision == "rejected"
    assert decision.reason == "holdout roc_auc 0.7400 < min_auc 0.7500"


def test_decide_promotion_first_champion() -> None:
    decision = _decide(0.80)
    assert decision.decision == "promoted"
    assert decision.reason.startswith("first model")
    assert decision.champion_version is None and decision.best_version is None


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (0.718, "promoted"),  # issue 18: on par with a notebook, clear of the baseline
        (0.706, "promoted"),  # exactly the baseline + min_baseline_gain
        (0.705, "rejected"),  # better than the baseline, not by the margin
        (0.69, "rejected"),  # worse than a logistic regression
    ],
)
def test_decide_promotion_first_model_must_beat_the_baseline_by_the_margin(
    candidate: float, expected: str
) -> None:
    decision = _first(candidate, min_baseline_gain=0.006)
    assert (decision.decision, decision.situation) == (expected, "first")
    assert decision.baseline_auc == 0.70
    sign = ">=" if expected == "promoted" else "<"
    assert decision.reason.startswith(
        f"first model: roc_auc {candidate:.4f} {sign} baseline 0.7000 + 0.0060 on the same holdout"
    )


def test_decide_promotion_first_model_with_min_auc_needs_both() -> None:
    assert _first(0.74, baseline_auc=0.60, min_auc=0.75).decision == "rejected"
    assert _first(0.76, baseline_auc=0.78, min_auc=0.75).decision == "rejected"
    decision = _first(0.76, baseline_auc=0.60, min_auc=0.75, min_baseline_gain=0.02)
    assert decision.decision == "promoted"
    assert decision.reason.endswith(
        "baseline 0.6000 + 0.0200 on the same holdout, and >= min_auc 0.7500"
    )


def test_decide_promotion_first_model_without_a_recorded_baseline_takes_the_old_floor() -> None:
    below, above = LEGACY_MIN_AUC - 0.001, LEGACY_MIN_AUC + 0.001
    assert _first(below, baseline_auc=None).decision == "rejected"
    decision = _first(above, baseline_auc=None)
    assert decision.decision == "promoted"
    assert f">= former default min_auc {LEGACY_MIN_AUC:.4f}" in decision.reason
    assert "records no baseline" in decision.reason
    # a floor the user gave replaces the old one
    assert _first(below, baseline_auc=None, min_auc=0.6).decision == "promoted"


def test_decide_promotion_first_model_may_trail_the_baseline_by_a_negative_gain() -> None:
    # XGBoost on a logistic-shaped table: on par with the baseline, a little below it
    decision = _first(0.695, min_baseline_gain=-0.01)
    assert decision.decision == "promoted"
    assert (
        decision.reason
        == "first model: roc_auc 0.6950 >= baseline 0.7000 - 0.0100 on the same holdout"
    )
    assert _first(0.689, min_baseline_gain=-0.01).decision == "rejected"


def test_decide_promotion_without_min_auc_sets_no_floor_against_a_champion() -> None:
    assert _first(0.60, _scored("3", 0.60)).decision == "promoted"
    assert _first(0.60, _scored("3", 0.60), min_auc=0.75).decision == "rejected"


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (0.82, 0.80, "promoted"),  # better
        (0.80, 0.80, "promoted"),  # equal
        (0.795, 0.80, "promoted"),  # worse, within tolerance
        (0.789, 0.80, "rejected"),  # worse beyond tolerance
    ],
)
def test_decide_promotion_against_champion(
    candidate: float, champion: float, expected: str
) -> None:
    decision = _decide(candidate, _scored("3", champion))
    assert decision.decision == expected
    assert "champion v3 0.8000" in decision.reason
    assert (decision.champion_version, decision.champion_auc) == ("3", champion)


def test_decide_promotion_min_auc_wins_over_a_weak_champion() -> None:
    assert _decide(0.70, _scored("3", 0.60), min_auc=0.75).decision == "rejected"


def test_decide_promotion_incomparable_champion_takes_the_first_model_test() -> None:
    other = Rescore("3", None, comparable=False, note="v3 uses other definitions")
    decision = _first(0.76, other)
    assert (decision.decision, decision.situation) == ("promoted", "first")
    assert "baseline 0.7000" in decision.reason and "other definitions" in decision.reason
    assert _first(0.68, other).decision == "rejected"


def test_decide_promotion_refuses_a_holdout_inside_the_champions_training_window() -> None:
    overlap = Rescore("3", None, comparable=True, note="v3's training labels reach 2024-07-01")
    decision = _decide(0.95, overlap)
    assert decision.decision == "rejected"
    assert decision.reason.startswith("refused: cannot compare like with like")
    assert "2024-07-01" in decision.reason


def test_decide_promotion_blocks_a_slow_slide_below_the_best_recent_champion() -> None:
    # each step is within tolerance of the current champion, but not of the best one
    decision = _decide(0.781, _scored("5", 0.79), _scored("4", 0.80), _scored("3", 0.785))
    assert decision.decision == "rejected"
    assert "best of last 3 v4 0.8000" in decision.reason
    assert (decision.best_version, decision.best_auc) == ("4", 0.80)
    assert _decide(0.791, _scored("5", 0.79), _scored("4", 0.80)).decision == "promoted"


def _same_data(version: str, auc: float, candidate: float, rows: int = 200) -> Rescore:
    return Rescore(
        version, auc, comparable=True, note="", candidate_auc=candidate, rows=rows, newer=False
    )


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (0.80, 0.80, "rejected"),  # a rerun: same model, same AUC
        (0.8015, 0.80, "rejected"),  # better, but not by min_gain
        (0.8025, 0.80, "promoted"),  # better by more than min_gain
        (0.795, 0.80, "rejected"),  # within tolerance is not enough on the same data
    ],
)
def test_decide_promotion_same_data_needs_min_gain(
    candidate: float, champion: float, expected: str
) -> None:
    decision = _decide(0.85, _same_data("3", champion, candidate), min_gain=0.002)
    assert (decision.decision, decision.situation) == (expected, "same")
    # never "incomparable": both AUCs on the same rows are in the reason
    assert f"roc_auc {candidate:.4f}" in decision.reason
    assert f"champion v3 {champion:.4f} + min_gain 0.0020 on the same 200 rows" in decision.reason
    assert "cannot compare" not in decision.reason


def test_decide_promotion_compares_the_candidate_on_the_champions_rows() -> None:
    # on its whole holdout the candidate scores 0.90; on the rows the champion never saw, 0.78
    decision = _decide(0.90, Rescore("3", 0.80, comparable=True, note="", candidate_auc=0.78))
    assert decision.decision == "rejected"
    assert "roc_auc 0.7800 < champion v3 0.8000" in decision.reason
    assert decision.situation == "newer"


def test_decide_promotion_situations() -> None:
    assert _decide(0.8).situation == "first"
    other = Rescore("3", None, comparable=False, note="other definitions")
    assert _decide(0.8, other).situation == "first"
    assert _decide(0.8, _scored("3", 0.8)).situation == "newer"
    assert _decide(0.8, _same_data("3", 0.8, 0.8)).situation == "same"


def test_decide_promotion_issue_18_on_par_first_model_is_promoted_by_default() -> None:
    """0.718 against 0.703 on the same holdout: refused by the former 0.75 floor, not any more."""
    decision = decide_promotion(
        version="1", candidate_auc=0.718, rescores=[], tolerance=0.01, baseline_auc=0.703
    )
    assert decision.decision == "promoted", decision.reason
