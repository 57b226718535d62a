"""After the gate: refresh a source's online store only with definitions its champion reads.

New data can change a source's derived definitions (a new category value, other top event
types). The served champion refuses rows materialized with other definitions than its own
(``StaleFeaturesError``: its API answers 503), so the declare flow writes the store after the
gate, and only when the champion reads the candidate's definitions (it was just promoted, or was
trained on the same definitions) or there is no champion yet. Otherwise the champion's rows stay
as they are until a candidate with the new definitions is promoted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import Engine

from core.names import CHAMPION, TAG_DEFINITIONS_HASH
from core.settings import get_settings
from tasks.declared.features import DeclaredDefinition
from tasks.declared.pipeline import materialize_spec
from tasks.declared.spec import SourceSpec
from tasks.features.online import MaterializeResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Champion:
    """The version the ``champion`` alias points at and the definitions it was trained on."""

    version: str
    definitions_hash: str


@dataclass(frozen=True)
class OnlineRefresh:
    """What the flow did to the source's online store after the gate, and why."""

    materialized: MaterializeResult | None  # None: the store was left as it was
    reason: str

    def summary(self) -> dict[str, Any]:
        """The flow summary's fields: rows and moment written by this run (None: nothing was
        written, ``online_store`` says why)."""
        done = self.materialized
        return {
            "online_rows": None if done is None else done.rows,
            "online_as_of": None if done is None else done.as_of.isoformat(),
            "online_store": self.reason,
        }


def champion_of(model_name: str) -> Champion | None:
    """The model's champion in the settings' registry (None: no champion, or no model yet)."""
    uri = get_settings().mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        version = client.get_registered_model(model_name).aliases.get(CHAMPION)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None
    if version is None:
        return None
    tags = client.get_model_version(model_name, str(version)).tags
    return Champion(str(version), tags.get(TAG_DEFINITIONS_HASH, ""))


def decide_refresh(
    *, candidate: str, definitions_hash: str, champion: Champion | None
) -> tuple[bool, str]:
    """(materialize the candidate's definitions?, why) once the gate has decided."""
    digest = definitions_hash[:12]
    if champion is None:
        return True, f"materialized with v{candidate}'s definitions {digest}: no champion yet"
    if champion.definitions_hash == definitions_hash:
        whose = "promoted" if champion.version == candidate else "same definitions"
        return True, f"materialized for champion v{champion.version} ({whose}, {digest})"
    return False, (
        f"kept for champion v{champion.version}: its rows keep its definitions "
        f"{champion.definitions_hash[:12]}; v{candidate}'s {digest} would make it answer 503"
    )


def refresh_online_store(
    spec: SourceSpec, definition: DeclaredDefinition, *, candidate: str, engine: Engine
) -> OnlineRefresh:
    """Materialize the source's online store with ``definition`` (the gated candidate's) when
    the champion reads it or there is none; else leave the champion's rows as they are."""
    materialize, reason = decide_refresh(
        candidate=candidate,
        definitions_hash=definition.definitions_hash,
        champion=champion_of(spec.model_name),
    )
    if not materialize:
        log.warning("%s: online store %s", spec.name, reason)
        return OnlineRefresh(None, reason)
    result = materialize_spec(spec, engine=engine, definition=definition)
    log.info("%s: online store %s", spec.name, reason)
    return OnlineRefresh(result, reason)
