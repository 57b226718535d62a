"""Model registry: register every model, gate the ``champion`` alias, keep its history, roll back.

``gate`` holds the pure decision rule, ``store`` the MLflow registry operations, ``steps`` the
Prefect task wrappers. Importing this package connects to nothing and reads no file.
"""

from core.names import CHALLENGER, CHAMPION
from tasks.registry.gate import GateDecision, decide_promotion
from tasks.registry.steps import (
    gate_model,
    publish_rollback_summary,
    register_model,
    rollback_champion,
)
from tasks.registry.store import (
    ChampionRecord,
    Rollback,
    champion_history,
    current_champion,
    gate_version,
    list_versions,
    register_version,
    registry_client,
    rescore_champion,
    rollback_to_previous,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ChampionRecord",
    "GateDecision",
    "Rollback",
    "champion_history",
    "current_champion",
    "decide_promotion",
    "gate_model",
    "gate_version",
    "list_versions",
    "publish_rollback_summary",
    "register_model",
    "register_version",
    "registry_client",
    "rescore_champion",
    "rollback_champion",
    "rollback_to_previous",
]
