"""The evaluation gate against the registry: re-score the recent champions on the candidate's
holdout (only those trained entirely before it), decide, and commit the decision crash-safely."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import mlflow
import pandas as pd
from mlflow import MlflowClient

from core.names import (
    CHALLENGER,
    CHAMPION,
    TAG_CHAMPION_PROMOTED_AT,
    TAG_CHAMPION_SEQ,
    TAG_CUTOFFS_VALIDATION,
    TAG_DEFINITIONS_HASH,
    TAG_GATE_DECIDED_AT,
    TAG_GATE_DECISION,
    TAG_GATE_REASON,
    TAG_HORIZON_DAYS,
    TAG_TRAINED_THROUGH,
    utc_now,
)
from tasks.registry.gate import GateDecision, Rescore, decide_promotion
from tasks.registry.lock import registry_lock
from tasks.registry.store import (
    Writes,
    active_champions,
    champion_history,
    model_name,
    registry_client,
    repair_registry,
)
from tasks.training.evaluation import compute_metrics

log = logging.getLogger(__name__)
# The candidate must be no worse than the best of this many latest champions (minus tolerance).
COMPARE_LAST = 3


def rescore_version(
    client: MlflowClient, name: str, version: str, holdout: pd.DataFrame, *, definitions_hash: str
) -> Rescore:
    """Version's ROC-AUC on ``holdout``, or why it cannot be compared there: other feature
    definitions, or a holdout that does not lie entirely after the version's training labels."""
    tags = client.get_model_version(name, version).tags
    if tags.get(TAG_DEFINITIONS_HASH) != definitions_hash:
        return Rescore(version, None, comparable=False, note=(
            f"v{version} uses feature definitions {tags.get(TAG_DEFINITIONS_HASH)} != "
            f"{definitions_hash} and cannot score this holdout (serving would refuse it anyway)"
        ))  # fmt: skip
    start = pd.Timestamp(holdout["as_of"].min()).to_pydatetime()
    trained_through = tags.get(TAG_TRAINED_THROUGH) or _trained_through_of_run(client, tags)
    if trained_through is None or datetime.fromisoformat(trained_through) > start:
        return Rescore(version, None, comparable=True, note=(
            f"v{version}'s training labels reach {trained_through or 'an unknown date'}, after "
            f"this holdout's cutoff {start.date()}: it would be scored on rows it learned from"
        ))  # fmt: skip
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    inputs = model.metadata.get_input_schema().input_names()
    scores = model.predict(holdout[inputs])["score"].to_numpy()
    auc = compute_metrics(holdout["label"].to_numpy(), scores)["roc_auc"]
    return Rescore(version, auc, comparable=True, note="")


def _trained_through_of_run(client: MlflowClient, tags: dict[str, str]) -> str | None:
    """For versions registered before ``data.trained_through`` existed: the last validation
    cutoff + horizon, from the version's run tags (None when the run does not say)."""
    if "run_id" not in tags:
        return None
    run_tags = client.get_run(tags["run_id"]).data.tags
    valid, horizon = run_tags.get(TAG_CUTOFFS_VALIDATION), run_tags.get(TAG_HORIZON_DAYS)
    if not valid or not horizon:
        return None
    last = max(datetime.fromisoformat(c) for c in valid.split(","))
    return (last + timedelta(days=int(horizon))).isoformat()


def _or_none(value: float | None) -> str:
    return "none" if value is None else f"{value:.6f}"


def _commit(client: MlflowClient, name: str, decision: GateDecision) -> None:
    """Write the gate tags, then ``gate.decision`` (the commit), then the alias.

    A crash before the commit leaves tags ``repair_registry`` removes; after it, an alias it sets.
    """
    writes, now = Writes(client, name), utc_now().isoformat()
    tags = {
        TAG_GATE_REASON: decision.reason,
        "gate.candidate_auc": f"{decision.candidate_auc:.6f}",
        "gate.champion_auc": _or_none(decision.champion_auc),
        "gate.champion_version": decision.champion_version or "none",
        "gate.best_version": decision.best_version or "none",
        "gate.best_auc": _or_none(decision.best_auc),
        TAG_GATE_DECIDED_AT: now,
    }
    if decision.decision == "promoted":
        seq = max((r.seq for r in champion_history(client, name)), default=0) + 1
        tags |= {TAG_CHAMPION_SEQ: str(seq), TAG_CHAMPION_PROMOTED_AT: now}
    for key, value in tags.items():
        writes.tag(decision.version, key, value)
    writes.tag(decision.version, TAG_GATE_DECISION, decision.decision)
    writes.alias(CHAMPION if decision.decision == "promoted" else CHALLENGER, decision.version)


def gate_version(
    *,
    version: str,
    candidate_auc: float,
    holdout: pd.DataFrame,
    definitions_hash: str,
    min_auc: float,
    tolerance: float,
    name: str | None = None,
    compare_last: int = COMPARE_LAST,
) -> GateDecision:
    """Promote ``version`` to champion or set it as challenger, under the registry lock."""
    client, name = registry_client(), model_name(name)
    with registry_lock(name):
        repair_registry(client, name)
        existing = client.get_model_version(name, version).tags.get(TAG_GATE_DECISION)
        if existing is not None:
            raise ValueError(f"{name} v{version} was already gated ({existing}); gate new versions")
        recent = active_champions(client, name)[-compare_last:]
        rescores = [
            rescore_version(client, name, v, holdout, definitions_hash=definitions_hash)
            for v in reversed(recent)  # current champion first
        ]
        decision = decide_promotion(
            version=version,
            candidate_auc=candidate_auc,
            rescores=rescores,
            min_auc=min_auc,
            tolerance=tolerance,
        )
        _commit(client, name, decision)
    log.info("gate: %s v%s %s (%s)", name, version, decision.decision, decision.reason)
    return decision
