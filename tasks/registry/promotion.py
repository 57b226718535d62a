"""The evaluation gate against the registry: re-score the recent champions on the candidate's
holdout (only those trained entirely before it), decide, and commit the decision crash-safely."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import mlflow
import pandas as pd
from mlflow import MlflowClient

from core.names import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_MIN_BASELINE_GAIN,
    DEFAULT_MIN_GAIN,
    TAG_BASELINE_AUC,
    TAG_CHAMPION_PROMOTED_AT,
    TAG_CHAMPION_SEQ,
    TAG_CUTOFFS_VALIDATION,
    TAG_DEFINITIONS_HASH,
    TAG_GATE_DECIDED_AT,
    TAG_GATE_DECISION,
    TAG_GATE_REASON,
    TAG_HORIZON_DAYS,
    TAG_TRAINED_THROUGH,
    TAG_TRAINING_IDS,
    utc_now,
)
from core.tmp import temporary_directory
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
    client: MlflowClient,
    name: str,
    version: str,
    holdout: pd.DataFrame,
    *,
    definitions_hash: str,
    candidate_through: datetime | None = None,
) -> Rescore:
    """Version's ROC-AUC and the candidate's on the rows of the candidate's ``holdout`` that
    neither trained on, or why there are none: other feature definitions, or a holdout inside
    the version's training data.

    Rows the version may have learned from are dropped: cutoffs before its
    ``data.trained_through`` (its labels reach that far), and the customers of its recorded
    training rows (a snapshot model: ``data.training_ids``). A version that records neither is
    compared on the rows after its registration. ``candidate_through``: when the candidate's
    labels end; later than the version's means newer data.
    """
    model_version = client.get_model_version(name, version)
    tags = model_version.tags
    if tags.get(TAG_DEFINITIONS_HASH) != definitions_hash:
        return Rescore(version, None, comparable=False, note=(
            f"v{version} uses feature definitions {tags.get(TAG_DEFINITIONS_HASH)} != "
            f"{definitions_hash} and cannot score this holdout (serving would refuse it anyway)"
        ))  # fmt: skip
    recorded = tags.get(TAG_TRAINED_THROUGH) or _trained_through_of_run(client, tags)
    if recorded is not None:
        through, since = datetime.fromisoformat(recorded), f"its training labels reach {recorded}"
    else:  # registered before versions recorded their data: trust only what came after
        created = datetime.fromtimestamp(model_version.creation_timestamp / 1000, UTC)
        through = created.replace(tzinfo=None)
        since = f"it records no training data; rows after its registration {through:%Y-%m-%d}"
    # a version that records nothing is older than anything trained since it was registered
    newer = candidate_through is None or recorded is None or candidate_through > through
    as_of = pd.to_datetime(holdout["as_of"])
    rows = holdout.loc[as_of >= through]
    seen = _training_ids(client, tags)
    if seen is not None:
        rows = rows.loc[~rows["customer_id"].astype(str).isin(seen)]
    labels = rows["label"].to_numpy()
    if (len(rows) == 0 or labels.min() == labels.max()) and recorded is None and seen is None:
        # nothing says what it learned from and nothing came after it: it cannot be compared,
        # and must not block every successor, so the candidate takes the first-model test
        return Rescore(version, None, comparable=False, newer=newer, note=(
            f"v{version} records no training data and no row of this holdout comes after its "
            f"registration ({through:%Y-%m-%d}): the first-model test applies"
        ))  # fmt: skip
    if len(rows) == 0 or labels.min() == labels.max():
        return Rescore(version, None, comparable=True, newer=newer, note=(
            f"no row of this holdout (cutoff {as_of.min():%Y-%m-%d}) lies outside v{version}'s "
            f"training data ({since}): it would be scored on rows it learned from"
        ))  # fmt: skip
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    inputs = model.metadata.get_input_schema().input_names()
    scores = model.predict(rows[inputs])["score"].to_numpy()
    auc = compute_metrics(labels, scores)["roc_auc"]
    mine = compute_metrics(labels, rows["score"].to_numpy())["roc_auc"]
    return Rescore(
        version, auc, comparable=True, note="", candidate_auc=mine, rows=len(rows), newer=newer
    )


def _training_ids(client: MlflowClient, tags: dict[str, str]) -> set[str] | None:
    """The customer ids a version trained on, when its run recorded them (snapshot models)."""
    path = tags.get(TAG_TRAINING_IDS)
    if not path or "run_id" not in tags:
        return None
    with temporary_directory("churn-gate-") as tmp:
        local = client.download_artifacts(tags["run_id"], path, tmp)
        return set(pd.read_parquet(local)["customer_id"].astype(str))


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
        "gate.baseline_auc": _or_none(decision.baseline_auc),
        "gate.situation": decision.situation,
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
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    min_baseline_gain: float = DEFAULT_MIN_BASELINE_GAIN,
    min_auc: float | None = None,
    name: str | None = None,
    compare_last: int = COMPARE_LAST,
) -> GateDecision:
    """Promote ``version`` to champion or set it as challenger, under the registry lock
    (the rule: ``tasks.registry.gate``). The baseline's AUC is the version's ``baseline.roc_auc``
    tag (``register_version``); a version without it takes the rule's no-baseline test."""
    client, name = registry_client(), model_name(name)
    with registry_lock(name):
        repair_registry(client, name)
        tags = client.get_model_version(name, version).tags
        existing = tags.get(TAG_GATE_DECISION)
        if existing is not None:
            raise ValueError(f"{name} v{version} was already gated ({existing}); gate new versions")
        through = tags.get(TAG_TRAINED_THROUGH)
        baseline = tags.get(TAG_BASELINE_AUC)
        recent = active_champions(client, name)[-compare_last:]
        rescores = [
            rescore_version(
                client,
                name,
                v,
                holdout,
                definitions_hash=definitions_hash,
                candidate_through=datetime.fromisoformat(through) if through else None,
            )
            for v in reversed(recent)  # current champion first
        ]
        decision = decide_promotion(
            version=version,
            candidate_auc=candidate_auc,
            rescores=rescores,
            tolerance=tolerance,
            min_gain=min_gain,
            baseline_auc=None if baseline is None else float(baseline),
            min_baseline_gain=min_baseline_gain,
            min_auc=min_auc,
        )
        _commit(client, name, decision)
    log.info("gate: %s v%s %s (%s)", name, version, decision.decision, decision.reason)
    return decision
