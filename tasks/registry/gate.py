"""The evaluation gate's rule, as pure functions and plain data: no MLflow, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class GateDecision:
    """Outcome of the evaluation gate for one model version."""

    version: str
    decision: Literal["promoted", "rejected"]
    reason: str
    candidate_auc: float
    champion_version: str | None
    champion_auc: float | None


def decide_promotion(
    *,
    candidate_auc: float,
    champion_version: str | None,
    champion_auc: float | None,
    min_auc: float,
    tolerance: float,
    champion_note: str = "",
) -> tuple[Literal["promoted", "rejected"], str]:
    """The gate rule: (decision, human-readable reason)."""
    if candidate_auc < min_auc:
        return "rejected", f"holdout roc_auc {candidate_auc:.4f} < min_auc {min_auc:.4f}"
    if champion_version is None:
        return "promoted", f"first champion: holdout roc_auc {candidate_auc:.4f} >= {min_auc:.4f}"
    if champion_auc is None:
        return "promoted", f"roc_auc {candidate_auc:.4f} >= min_auc; {champion_note}"
    floor = champion_auc - tolerance
    if candidate_auc >= floor:
        return "promoted", (
            f"roc_auc {candidate_auc:.4f} >= champion v{champion_version} {champion_auc:.4f} "
            f"- tolerance {tolerance:.4f} on the same holdout"
        )
    return "rejected", (
        f"roc_auc {candidate_auc:.4f} < champion v{champion_version} {champion_auc:.4f} "
        f"- tolerance {tolerance:.4f} on the same holdout"
    )
