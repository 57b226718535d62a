"""Model registry: register every model, gate the ``champion`` alias, keep its history, roll back.

``gate`` holds the pure decision rule, ``store`` the registry's history, writes and repair,
``promotion`` and ``rollback`` the two operations that move the alias (under ``lock``, a Prefect
global concurrency limit), ``candidate`` every model's fit → log → register → gate, ``steps`` the
Prefect task wrappers.
Importing this package connects to nothing and reads no file.
"""

from core.names import CHALLENGER, CHAMPION
from tasks.registry.candidate import (
    Candidate,
    fit_candidate,
    release_candidate,
    train_candidate,
)
from tasks.registry.gate import GateDecision, Rescore, decide_promotion
from tasks.registry.promotion import DEFAULT_MIN_GAIN, gate_version, rescore_version
from tasks.registry.rollback import Rollback, rollback_to_previous
from tasks.registry.steps import publish_rollback_summary, release_model, rollback_champion
from tasks.registry.store import (
    ChampionRecord,
    champion_history,
    current_champion,
    list_versions,
    register_version,
    registry_client,
    repair_registry,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_MIN_GAIN",
    "Candidate",
    "ChampionRecord",
    "GateDecision",
    "Rescore",
    "Rollback",
    "champion_history",
    "current_champion",
    "decide_promotion",
    "fit_candidate",
    "gate_version",
    "list_versions",
    "publish_rollback_summary",
    "register_version",
    "registry_client",
    "release_candidate",
    "release_model",
    "repair_registry",
    "rescore_version",
    "rollback_champion",
    "rollback_to_previous",
    "train_candidate",
]
