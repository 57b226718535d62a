"""The evaluation gate's rule, as a pure function over plain data: no MLflow, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Rescore:
    """A recent champion re-scored on the candidate's holdout.

    ``auc`` None: not scored. ``comparable`` False: other feature definitions (it cannot score
    this data at all); True with no auc: the holdout overlaps its training labels.
    """

    version: str
    auc: float | None
    comparable: bool
    note: str


@dataclass(frozen=True)
class GateDecision:
    """Outcome of the evaluation gate for one model version."""

    version: str
    decision: Literal["promoted", "rejected"]
    reason: str
    candidate_auc: float
    champion_version: str | None
    champion_auc: float | None
    best_version: str | None = None
    best_auc: float | None = None


def decide_promotion(
    *,
    version: str,
    candidate_auc: float,
    rescores: Sequence[Rescore],
    min_auc: float,
    tolerance: float,
) -> GateDecision:
    """Promote when the candidate clears ``min_auc`` and is no worse (beyond ``tolerance``) than
    the current champion *and* the best of the recent champions, all on the same holdout.

    ``rescores``: the recent champions, current first. A current champion whose training labels
    overlap the holdout cannot be compared fairly: the candidate is then refused.
    """
    champion = rescores[0] if rescores else None
    scored = [r for r in rescores if r.auc is not None]
    best = max(scored, key=lambda r: r.auc or 0.0, default=None)

    def result(outcome: Literal["promoted", "rejected"], reason: str) -> GateDecision:
        return GateDecision(
            version=version,
            decision=outcome,
            reason=reason,
            candidate_auc=candidate_auc,
            champion_version=champion.version if champion else None,
            champion_auc=champion.auc if champion else None,
            best_version=best.version if best else None,
            best_auc=best.auc if best else None,
        )

    if candidate_auc < min_auc:
        return result("rejected", f"holdout roc_auc {candidate_auc:.4f} < min_auc {min_auc:.4f}")
    if champion is None:
        return result(
            "promoted", f"first champion: holdout roc_auc {candidate_auc:.4f} >= {min_auc:.4f}"
        )
    if champion.auc is None and champion.comparable:
        return result(
            "rejected",
            f"refused: cannot compare like with like — {champion.note}; train with later "
            "cutoffs so the holdout lies after the champion's training window",
        )
    for other, label in ((champion, "champion"), (best, f"best of last {len(rescores)}")):
        if other is not None and other.auc is not None and candidate_auc < other.auc - tolerance:
            return result("rejected", (
                f"roc_auc {candidate_auc:.4f} < {label} v{other.version} {other.auc:.4f} "
                f"- tolerance {tolerance:.4f} on the same holdout"
            ))  # fmt: skip
    if champion.auc is None:
        return result("promoted", f"roc_auc {candidate_auc:.4f} >= min_auc; {champion.note}")
    assert best is not None and best.auc is not None
    return result("promoted", (
        f"roc_auc {candidate_auc:.4f} >= champion v{champion.version} {champion.auc:.4f} and "
        f"best recent v{best.version} {best.auc:.4f} - tolerance {tolerance:.4f} on the same "
        "holdout"
    ))  # fmt: skip
