"""When to ask for a retrain: persistent drift or measured loss of performance, with a cooldown.

A single drifted window is noise until it repeats: drift must hold in ``k_runs`` consecutive
monitored windows (one verdict per window: a window monitored again replaces its verdict).
Performance counts only with at least ``min_labelled`` labelled predictions.
Nothing is requested within ``cooldown`` of the last retrain or request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TriggerPolicy:
    """Thresholds of the retraining decision."""

    k_runs: int = 3
    min_roc_auc: float = 0.70
    min_labelled: int = 200
    cooldown: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if self.k_runs < 1 or self.min_labelled < 1:
            raise ValueError("k_runs and min_labelled must be at least 1")


@dataclass(frozen=True)
class RunVerdict:
    """What one monitoring run found (newest last in a history)."""

    at: datetime
    drift: bool
    drifted_features: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    drifted_features: list[str] = field(default_factory=list)
    details: dict[str, float] = field(default_factory=dict)


def decide_retrain(
    history: Sequence[RunVerdict],
    *,
    roc_auc: float | None,
    labelled: int,
    last_retrain: datetime | None,
    now: datetime,
    policy: TriggerPolicy,
) -> RetrainDecision:
    """Decide from the run history (this run last), the labelled performance and the cooldown."""
    recent = list(history)[-policy.k_runs :]
    persistent = len(recent) == policy.k_runs and all(v.drift for v in recent)
    weak = roc_auc is not None and labelled >= policy.min_labelled and roc_auc < policy.min_roc_auc
    features = _persistent_features(recent) if persistent else []
    details = {"consecutive_drift_runs": float(_streak(history)), "labelled": float(labelled)}
    if roc_auc is not None:
        details["roc_auc"] = roc_auc
    if not persistent and not weak:
        why = (
            f"drift in {_streak(history)} of the last {policy.k_runs} windows needed"
            if history and history[-1].drift
            else "no drift in this run"
        )
        if roc_auc is not None:
            why += f"; ROC-AUC {roc_auc:.3f} on {labelled} labelled (floor {policy.min_roc_auc})"
        return RetrainDecision(False, why, features, details)
    reasons = []
    if persistent:
        reasons.append(f"drift in {policy.k_runs} consecutive windows")
    if weak:
        reasons.append(
            f"ROC-AUC {roc_auc:.3f} < {policy.min_roc_auc} on {labelled} labelled predictions"
        )
    reason = " and ".join(reasons)
    if last_retrain is not None and now - last_retrain < policy.cooldown:
        return RetrainDecision(
            False,
            f"{reason}, but the last retrain was {now - last_retrain} ago "
            f"(cooldown {policy.cooldown})",
            features,
            details,
        )
    return RetrainDecision(True, reason, features, details)


def _streak(history: Sequence[RunVerdict]) -> int:
    count = 0
    for verdict in reversed(history):
        if not verdict.drift:
            break
        count += 1
    return count


def _persistent_features(recent: Sequence[RunVerdict]) -> list[str]:
    """Features drifted in every run of the window, else those of the latest run."""
    common = set(recent[0].drifted_features)
    for verdict in recent[1:]:
        common &= set(verdict.drifted_features)
    return sorted(common) if common else sorted(recent[-1].drifted_features)
