"""Model registry: register every model, gate the ``champion`` alias, keep its history, roll back.

A candidate becomes champion only if its holdout ROC-AUC clears ``min_auc`` and it is not worse
(beyond ``tolerance``) than the current champion re-scored on the same holdout. Otherwise it becomes
``challenger``. Every decision is written to the version's ``gate.*`` tags; each promotion gets a
``champion.seq`` tag, so the champion history is the promoted versions ordered by ``seq`` minus the
ones rolled back. Read-decide-write runs under a cross-process lock (``tasks.registry.locks``).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from core.names import (
    CHALLENGER,
    CHAMPION,
    TAG_CHAMPION_PROMOTED_AT,
    TAG_CHAMPION_SEQ,
    TAG_DEFINITIONS_HASH,
    TAG_GATE_DECISION,
    TAG_GATE_REASON,
    utc_now,
)
from core.settings import get_settings
from tasks.registry.gate import GateDecision, decide_promotion
from tasks.registry.locks import registry_lock
from tasks.training.evaluation import compute_metrics
from tasks.training.tracking import LoggedRun, configure_tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChampionRecord:
    """One promotion to champion, and its rollback if it was rolled back."""

    version: str
    seq: int
    promoted_at: str
    rolled_back_at: str | None


def _now() -> str:
    return utc_now().isoformat()


def registry_client() -> MlflowClient:
    """A client on the settings' tracking/registry store (creating the store if needed)."""
    configure_tracking()
    uri = get_settings().mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _lock() -> AbstractContextManager[None]:
    settings = get_settings()
    return registry_lock(tracking_uri=settings.mlflow_tracking_uri, name=settings.model_name)


def list_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of ``name`` (all result pages)."""
    versions: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name='{name}'", max_results=1000, page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            return versions


def champion_history(client: MlflowClient | None = None) -> list[ChampionRecord]:
    """Every promotion to champion, oldest first (rolled-back ones included, marked)."""
    client = client or registry_client()
    records = [
        ChampionRecord(
            version=str(v.version),
            seq=int(v.tags[TAG_CHAMPION_SEQ]),
            promoted_at=v.tags[TAG_CHAMPION_PROMOTED_AT],
            rolled_back_at=v.tags.get("champion.rolled_back_at"),
        )
        for v in list_versions(client, get_settings().model_name)
        if TAG_CHAMPION_SEQ in v.tags
    ]
    return sorted(records, key=lambda r: r.seq)


def current_champion(client: MlflowClient) -> str | None:
    """Version the ``champion`` alias points at, checked against the history; None if none yet."""
    name = get_settings().model_name
    try:
        aliased = client.get_registered_model(name).aliases.get(CHAMPION)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None  # nothing registered yet, so no champion
    active = [r.version for r in champion_history(client) if r.rolled_back_at is None]
    top = active[-1] if active else None
    if (str(aliased) if aliased is not None else None) != top:
        raise RuntimeError(
            f"registry {name!r} is inconsistent: alias {CHAMPION!r} -> {aliased}, but the champion "
            f"history ends at {top}; a gate or rollback was interrupted or the alias was moved by "
            f"hand — set the alias back to {top} (or tag the version) before gating again"
        )
    return top


def register_version(logged: LoggedRun, *, metrics: dict[str, float], definitions_hash: str) -> str:
    """Register the run's model as a new version of ``settings.model_name``; return the version."""
    configure_tracking()
    name = get_settings().model_name
    version = mlflow.register_model(
        logged.model_uri,
        name,
        tags={
            TAG_DEFINITIONS_HASH: definitions_hash,
            "run_id": logged.run_id,
            "holdout.roc_auc": f"{metrics['roc_auc']:.6f}",
        },
    )
    log.info("registered %s version %s from run %s", name, version.version, logged.run_id)
    return str(version.version)


def rescore_champion(
    client: MlflowClient, version: str, holdout: pd.DataFrame, *, definitions_hash: str
) -> tuple[float | None, str]:
    """Champion ROC-AUC on ``holdout``, or None (+ why) if it uses other feature definitions."""
    name = get_settings().model_name
    champion_hash = client.get_model_version(name, version).tags.get(TAG_DEFINITIONS_HASH)
    if champion_hash != definitions_hash:
        return None, (
            f"champion v{version} uses feature definitions {champion_hash} != {definitions_hash} "
            "and cannot score this holdout (serving would refuse it anyway)"
        )
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    inputs = model.metadata.get_input_schema().input_names()
    scores = model.predict(holdout[inputs])["score"].to_numpy()
    return compute_metrics(holdout["label"].to_numpy(), scores)["roc_auc"], ""


def _or_none(value: float | None) -> str:
    return "none" if value is None else f"{value:.6f}"


def _write_decision(client: MlflowClient, decision: GateDecision) -> None:
    name = get_settings().model_name
    tags = {
        TAG_GATE_DECISION: decision.decision,
        TAG_GATE_REASON: decision.reason,
        "gate.candidate_auc": f"{decision.candidate_auc:.6f}",
        "gate.champion_auc": _or_none(decision.champion_auc),
        "gate.champion_version": decision.champion_version or "none",
        "gate.decided_at": _now(),
    }
    if decision.decision == "promoted":
        seq = max((r.seq for r in champion_history(client)), default=0) + 1
        tags |= {TAG_CHAMPION_SEQ: str(seq), TAG_CHAMPION_PROMOTED_AT: _now()}
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.version, key, value)
    alias = CHAMPION if decision.decision == "promoted" else CHALLENGER
    client.set_registered_model_alias(name, alias, decision.version)


def gate_version(
    *,
    version: str,
    candidate_auc: float,
    holdout: pd.DataFrame,
    definitions_hash: str,
    min_auc: float,
    tolerance: float,
) -> GateDecision:
    """Promote ``version`` to champion or set it as challenger, under the registry lock."""
    client = registry_client()
    name = get_settings().model_name
    with _lock():
        existing = client.get_model_version(name, version).tags.get(TAG_GATE_DECISION)
        if existing is not None:
            raise ValueError(f"{name} v{version} was already gated ({existing}); gate new versions")
        champion = current_champion(client)
        champion_auc, note = (
            rescore_champion(client, champion, holdout, definitions_hash=definitions_hash)
            if champion is not None
            else (None, "")
        )
        outcome, reason = decide_promotion(
            candidate_auc=candidate_auc,
            champion_version=champion,
            champion_auc=champion_auc,
            min_auc=min_auc,
            tolerance=tolerance,
            champion_note=note,
        )
        decision = GateDecision(version, outcome, reason, candidate_auc, champion, champion_auc)
        _write_decision(client, decision)
    log.info("gate: %s v%s %s (%s)", name, version, outcome, reason)
    return decision


@dataclass(frozen=True)
class Rollback:
    """The champion alias moved from ``from_version`` back to ``to_version``."""

    from_version: str
    to_version: str
    reason: str


def rollback_to_previous(*, reason: str = "manual rollback") -> Rollback:
    """Move ``champion`` back to the previous champion in the history, and record it."""
    client = registry_client()
    name = get_settings().model_name
    with _lock():
        champion = current_champion(client)
        active = [r.version for r in champion_history(client) if r.rolled_back_at is None]
        if champion is None or len(active) < 2:
            raise RuntimeError(
                f"nothing to roll back to: {name!r} has champion {champion} and no earlier "
                f"champion in its history ({active}); train and promote a model first"
            )
        previous = active[-2]
        now = _now()
        for key, value in {
            "champion.rolled_back_at": now,
            "champion.rolled_back_to": previous,
            "champion.rollback_reason": reason,
        }.items():
            client.set_model_version_tag(name, champion, key, value)
        client.set_model_version_tag(name, previous, "champion.restored_at", now)
        client.set_registered_model_alias(name, CHAMPION, previous)
    log.info("rollback: %s champion v%s -> v%s (%s)", name, champion, previous, reason)
    return Rollback(from_version=champion, to_version=previous, reason=reason)
