"""The MLflow registry as the gate and rollback see it: versions, the champion history, writes
that can be crash-tested, and the repair that makes an interrupted gate or rollback whole again.

The champion history lives on version tags: a promotion is committed by its ``gate.decision``
tag (written after every other gate tag), a rollback by ``champion.rolled_back_at``. The aliases
are derived from that history, so ``repair_registry`` can always put them back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from core.names import (
    CHALLENGER,
    CHAMPION,
    TAG_BASELINE_AUC,
    TAG_CHAMPION_PROMOTED_AT,
    TAG_CHAMPION_SEQ,
    TAG_CUTOFFS_HOLDOUT,
    TAG_DEFINITIONS_HASH,
    TAG_GATE_DECIDED_AT,
    TAG_GATE_DECISION,
    TAG_HORIZON_DAYS,
    TAG_RESTORED_AT,
    TAG_ROLLBACK_REASON,
    TAG_ROLLED_BACK_AT,
    TAG_ROLLED_BACK_TO,
    TAG_SOURCE,
    TAG_TRAINED_THROUGH,
    TAG_TRAINING_IDS,
)
from core.settings import get_settings
from tasks.training.tracking import LoggedRun, use_tracking_store

log = logging.getLogger(__name__)
# Fault injection for the crash tests: the process exits right after this many registry writes.
CRASH_ENV = "CHURN_CRASH_AFTER_WRITES"
CRASH_EXIT_CODE = 86


@dataclass(frozen=True)
class ChampionRecord:
    """One promotion to champion, and its rollback if it was rolled back."""

    version: str
    seq: int
    promoted_at: str
    rolled_back_at: str | None


def model_name(name: str | None = None) -> str:
    """``name``, or the configured model name."""
    return name or get_settings().model_name


def registry_client() -> MlflowClient:
    """A client on the settings' tracking/registry store (creating the store if needed)."""
    uri = use_tracking_store()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class Writes:
    """Every registry write of one gate or rollback, counted so a test can kill the process
    between any two of them (``CHURN_CRASH_AFTER_WRITES=n``)."""

    def __init__(self, client: MlflowClient, name: str):
        self.client, self.name, self.count = client, name, 0
        limit = os.environ.get(CRASH_ENV)
        self.crash_after = int(limit) if limit else None

    def _done(self) -> None:
        self.count += 1
        if self.crash_after is not None and self.count >= self.crash_after:
            os._exit(CRASH_EXIT_CODE)

    def _call(self, write: Callable[..., Any], *args: Any) -> None:
        write(*args)
        self._done()

    def tag(self, version: str, key: str, value: str) -> None:
        self._call(self.client.set_model_version_tag, self.name, version, key, value)

    def untag(self, version: str, key: str) -> None:
        self._call(self.client.delete_model_version_tag, self.name, version, key)

    def alias(self, alias: str, version: str | None) -> None:
        if version is None:
            self._call(self.client.delete_registered_model_alias, self.name, alias)
        else:
            self._call(self.client.set_registered_model_alias, self.name, alias, version)


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


def _promoted(v: ModelVersion) -> bool:
    return v.tags.get(TAG_GATE_DECISION) == "promoted" and TAG_CHAMPION_SEQ in v.tags


def champion_history(
    client: MlflowClient | None = None, name: str | None = None
) -> list[ChampionRecord]:
    """Every committed promotion to champion, oldest first (rolled-back ones included, marked)."""
    client = client or registry_client()
    records = [
        ChampionRecord(
            version=str(v.version),
            seq=int(v.tags[TAG_CHAMPION_SEQ]),
            promoted_at=v.tags[TAG_CHAMPION_PROMOTED_AT],
            rolled_back_at=v.tags.get(TAG_ROLLED_BACK_AT),
        )
        for v in list_versions(client, model_name(name))
        if _promoted(v)
    ]
    return sorted(records, key=lambda r: r.seq)


def active_champions(client: MlflowClient, name: str | None = None) -> list[str]:
    """Promoted versions not rolled back, oldest first; the last one is the champion."""
    return [r.version for r in champion_history(client, name) if r.rolled_back_at is None]


def current_champion(client: MlflowClient, name: str | None = None) -> str | None:
    """The champion according to the history (None if none yet)."""
    active = active_champions(client, name)
    return active[-1] if active else None


def _aliases(client: MlflowClient, name: str) -> dict[str, str] | None:
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None
    return {alias: str(version) for alias, version in model.aliases.items()}


def repair_registry(client: MlflowClient, name: str | None = None) -> list[str]:
    """Finish or undo what an interrupted gate or rollback left; return what was repaired.

    Uncommitted gate or rollback tags are removed, a committed rollback's ``restored_at`` is
    written, and both aliases are set from the history. Call it holding the registry lock.
    """
    name = model_name(name)
    aliases = _aliases(client, name)
    if aliases is None:
        return []  # nothing registered yet
    writes, repaired = Writes(client, name), []
    versions = list_versions(client, name)
    by_version = {str(v.version): v for v in versions}
    for v in versions:
        version, tags = str(v.version), v.tags
        if TAG_GATE_DECISION not in tags:
            stale = [k for k in tags if k.startswith("gate.") or k.startswith("champion.")]
            for key in stale:
                writes.untag(version, key)
            if stale:
                repaired.append(f"v{version}: removed uncommitted gate tags {sorted(stale)}")
        elif TAG_ROLLED_BACK_AT not in tags:
            stale = [k for k in (TAG_ROLLED_BACK_TO, TAG_ROLLBACK_REASON) if k in tags]
            for key in stale:
                writes.untag(version, key)
            if stale:
                repaired.append(f"v{version}: removed uncommitted rollback tags {stale}")
        else:
            target = by_version.get(tags.get(TAG_ROLLED_BACK_TO, ""))
            when = tags[TAG_ROLLED_BACK_AT]
            if target is not None and target.tags.get(TAG_RESTORED_AT, "") < when:
                writes.tag(str(target.version), TAG_RESTORED_AT, when)
                repaired.append(f"v{target.version}: restored_at {when}")
    champion = current_champion(client, name)
    rejected = [v for v in versions if v.tags.get(TAG_GATE_DECISION) == "rejected"]
    latest = max(
        rejected,
        key=lambda v: (v.tags.get(TAG_GATE_DECIDED_AT, ""), int(v.version)),
        default=None,
    )
    challenger = str(latest.version) if latest is not None else None
    for alias, want in ((CHAMPION, champion), (CHALLENGER, challenger)):
        if aliases.get(alias) != want:
            writes.alias(alias, want)
            repaired.append(f"alias {alias}: {aliases.get(alias)} -> {want}")
    for line in repaired:
        log.warning("registry %s repaired (interrupted gate/rollback or hand edit): %s", name, line)
    return repaired


def register_version(
    logged: LoggedRun,
    *,
    metrics: dict[str, float],
    definitions_hash: str,
    name: str | None = None,
    baseline_auc: float | None = None,
) -> str:
    """Register the run's model as a new version of ``name`` (default: settings); return it.

    The version carries the run's training window, so the gate can tell which holdouts are fair
    to re-score it on later, its declared source (serving builds its feature record) and the
    baseline's holdout AUC (``baseline_auc``, the first-model test's yardstick).
    """
    use_tracking_store()
    name = model_name(name)
    run_tags = mlflow.get_run(logged.run_id).data.tags
    keys = (TAG_TRAINED_THROUGH, TAG_TRAINING_IDS, TAG_CUTOFFS_HOLDOUT, TAG_HORIZON_DAYS)
    window = {k: run_tags[k] for k in (*keys, TAG_SOURCE) if k in run_tags}
    version = mlflow.register_model(
        logged.model_uri,
        name,
        tags={
            TAG_DEFINITIONS_HASH: definitions_hash,
            "run_id": logged.run_id,
            "holdout.roc_auc": f"{metrics['roc_auc']:.6f}",
            **({} if baseline_auc is None else {TAG_BASELINE_AUC: f"{baseline_auc:.6f}"}),
            **window,
        },
    )
    log.info("registered %s version %s from run %s", name, version.version, logged.run_id)
    return str(version.version)
