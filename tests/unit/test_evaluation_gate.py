import pytest

from tasks.registry import decide_promotion


def _decide(
    candidate: float, champion: float | None, version: str | None = "3", **kw: float
) -> tuple[str, str]:
    params = {"min_auc": 0.75, "tolerance": 0.01} | kw
    return decide_promotion(
        candidate_auc=candidate,
        champion_version=version,
        champion_auc=champion,
        champion_note="champion v3 uses other definitions",
        **params,
    )


def test_decide_promotion_below_min_auc_is_rejected_even_without_champion() -> None:
    decision, reason = _decide(0.74, None, version=None)
    assert decision == "rejected"
    assert reason == "holdout roc_auc 0.7400 < min_auc 0.7500"


def test_decide_promotion_first_champion() -> None:
    decision, reason = _decide(0.80, None, version=None)
    assert decision == "promoted"
    assert reason.startswith("first champion")


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
    decision, reason = _decide(candidate, champion)
    assert decision == expected
    assert "champion v3 0.8000" in reason


def test_decide_promotion_min_auc_wins_over_a_weak_champion() -> None:
    decision, _ = _decide(0.70, 0.60, min_auc=0.75)
    assert decision == "rejected"


def test_decide_promotion_incomparable_champion_uses_min_auc_only() -> None:
    decision, reason = _decide(0.76, None)
    assert decision == "promoted"
    assert "other definitions" in reason
