"""The evaluation gate's rule, as a pure function over plain data: no MLflow, no I/O.

One rule for every model (``churn-model`` and every ``churn-<name>``):

| situation | promote when |
|---|---|
| no champion | the candidate clears the first-model test: holdout AUC ≥ the baseline's + ``min_baseline_gain`` (default −0.01: on par) |
| candidate trained on newer data (later ``data.trained_through``) | its AUC ≥ the champion's − ``tolerance`` (and ≥ the best recent champion's − ``tolerance``) |
| same (or older) data as the champion: a reload, a rerun | its AUC > the champion's + ``min_gain`` |

Both AUCs are computed on the same rows, which neither version trained on (``Rescore``). The
baseline is a logistic regression fitted on the candidate's own training rows and scored on its
holdout (``tasks.training.baseline``): a first model has no champion to beat, and a fixed floor
says more about the data than about the model. ``min_auc``, when given, is an absolute floor for
every candidate in every row; None (the default) sets none. A version that records no baseline
(registered before baselines existed) takes the first-model test against ``min_auc``, or
``LEGACY_MIN_AUC`` when none is given. A champion that cannot score the candidate's rows at all
(other feature definitions) leaves the first-model test.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.names import DEFAULT_MIN_BASELINE_GAIN, DEFAULT_MIN_GAIN, LEGACY_MIN_AUC

Situation = Literal["first", "newer", "same"]


@dataclass(frozen=True)
class Rescore:
    """A recent champion and the candidate scored on the same rows, which neither trained on.

    ``auc`` None: not scored, and ``note`` says why. ``comparable`` False: other feature
    definitions (it cannot score this data at all); True with no auc: no row of the candidate's
    holdout lies outside the champion's training data. ``candidate_auc``: the candidate's AUC
    on the same rows (None: use the candidate's whole holdout). ``newer``: the candidate trained
    on later data than this version.
    """

    version: str
    auc: float | None
    comparable: bool
    note: str
    candidate_auc: float | None = None
    rows: int | None = None
    newer: bool = True


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
    situation: Situation = "first"
    baseline_auc: float | None = None  # the logistic baseline on the candidate's own holdout


def decide_promotion(
    *,
    version: str,
    candidate_auc: float,
    rescores: Sequence[Rescore],
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    baseline_auc: float | None = None,
    min_baseline_gain: float = DEFAULT_MIN_BASELINE_GAIN,
    min_auc: float | None = None,
) -> GateDecision:
    """Apply the rule of the module's table. ``rescores``: the recent champions, current first;
    ``baseline_auc``: the baseline's on the candidate's holdout (None: not recorded)."""
    champion = rescores[0] if rescores else None
    scored = [r for r in rescores if r.auc is not None]
    best = max(scored, key=lambda r: r.auc or 0.0, default=None)
    situation: Situation = (
        "first" if champion is None or not champion.comparable
        else "newer" if champion.newer else "same"
    )  # fmt: skip

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
            situation=situation,
            baseline_auc=baseline_auc,
        )

    if min_auc is not None and candidate_auc < min_auc:
        return result("rejected", f"holdout roc_auc {candidate_auc:.4f} < min_auc {min_auc:.4f}")
    if champion is None or not champion.comparable:
        passed, reason = first_model_test(
            candidate_auc,
            baseline_auc=baseline_auc,
            min_baseline_gain=min_baseline_gain,
            min_auc=min_auc,
        )
        note = f"; {champion.note}" if champion is not None else ""
        return result("promoted" if passed else "rejected", reason + note)
    if champion.auc is None:
        return result(
            "rejected",
            f"refused: cannot compare like with like — {champion.note}; train with later "
            "cutoffs so the holdout lies after the champion's training window",
        )
    mine = champion.candidate_auc if champion.candidate_auc is not None else candidate_auc
    on_rows = f"on the same {champion.rows} rows" if champion.rows else "on the same rows"
    if not champion.newer:
        if mine > champion.auc + min_gain:
            return result("promoted", (
                f"better on the same data: roc_auc {mine:.4f} > champion v{champion.version} "
                f"{champion.auc:.4f} + min_gain {min_gain:.4f} {on_rows}, which neither trained on"
            ))  # fmt: skip
        return result("rejected", (
            f"not better on the same data: roc_auc {mine:.4f} <= champion v{champion.version} "
            f"{champion.auc:.4f} + min_gain {min_gain:.4f} {on_rows}, which neither trained on"
        ))  # fmt: skip
    for other, label in ((champion, "champion"), (best, f"best of last {len(rescores)}")):
        if other is None or other.auc is None:
            continue
        own = other.candidate_auc if other.candidate_auc is not None else candidate_auc
        if own < other.auc - tolerance:
            return result("rejected", (
                f"roc_auc {own:.4f} < {label} v{other.version} {other.auc:.4f} "
                f"- tolerance {tolerance:.4f} on the same holdout"
            ))  # fmt: skip
    assert best is not None and best.auc is not None  # champion.auc is set, so best exists
    return result("promoted", (
        f"newer data: roc_auc {mine:.4f} >= champion v{champion.version} {champion.auc:.4f} and "
        f"best recent v{best.version} {best.auc:.4f} - tolerance {tolerance:.4f} on the same "
        "holdout"
    ))  # fmt: skip


def first_model_test(
    candidate_auc: float,
    *,
    baseline_auc: float | None,
    min_baseline_gain: float,
    min_auc: float | None,
) -> tuple[bool, str]:
    """(passed, reason) of the first-model test: reach the baseline's AUC on the same holdout +
    ``min_baseline_gain`` (negative: trail it by at most that much); with no baseline recorded,
    reach ``min_auc`` or ``LEGACY_MIN_AUC``.
    ``min_auc``, when given, has been checked by the caller (a floor for every candidate)."""
    if baseline_auc is None:
        floor, name = (LEGACY_MIN_AUC, "former default min_auc") if min_auc is None else (
            min_auc, "min_auc"
        )  # fmt: skip
        passed = candidate_auc >= floor
        return passed, (
            f"first model: roc_auc {candidate_auc:.4f} {'>=' if passed else '<'} {name} "
            f"{floor:.4f} (the version records no baseline to compare with)"
        )
    passed = candidate_auc >= baseline_auc + min_baseline_gain
    sign = "+" if min_baseline_gain >= 0 else "-"
    reason = (
        f"first model: roc_auc {candidate_auc:.4f} {'>=' if passed else '<'} baseline "
        f"{baseline_auc:.4f} {sign} {abs(min_baseline_gain):.4f} on the same holdout"
    )
    if not passed:
        return False, (
            f"{reason}: not enough over a logistic regression on the same features; improve the"
            " features or lower min_baseline_gain"
        )
    return True, reason + ("" if min_auc is None else f", and >= min_auc {min_auc:.4f}")
