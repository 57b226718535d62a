"""Churn definitions: entity, sources, feature views, label rule and horizon → a registered model.

``get_definition(model_name)`` is how a stage finds what a model is; nothing switches models by
changing global settings. The built-in definitions live in ``catalog``; every ``definitions/*.yaml``
of the project is a definition written as text (``document``), e.g. ``churn-sim``, the simulator's
exports declared in full. A team's declared source (``churn-<name>``, ``make declare SPEC=...``) is
still resolved by ``tasks.declared`` from its spec. Importing this package connects to nothing and
reads no file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.settings import get_settings
from tasks.definitions.catalog import builtin_definition
from tasks.definitions.document import DefinitionError, load_definition
from tasks.definitions.objects import ChurnDefinition, Entity, FeatureView, Source

__all__ = [
    "ChurnDefinition",
    "DefinitionError",
    "Entity",
    "FeatureView",
    "Source",
    "UnknownModelError",
    "builtin_definitions",
    "get_definition",
]

LONG_HORIZON_DAYS = 90
DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "definitions"


class UnknownModelError(LookupError):
    """No definition has this model name."""


def builtin_definitions() -> dict[str, ChurnDefinition]:
    """The models over the warehouse's built-in tables by name: ``churn-model`` at the settings'
    horizon, the same views at a 90-day horizon (``churn-model-90d``), and each definition in
    the project's ``definitions/*.yaml``."""
    settings = get_settings()
    base = settings.model_name
    return {
        base: builtin_definition(base, settings.horizon_days),
        f"{base}-{LONG_HORIZON_DAYS}d": builtin_definition(
            f"{base}-{LONG_HORIZON_DAYS}d", LONG_HORIZON_DAYS
        ),
        **document_definitions(),
    }


@lru_cache(maxsize=1)
def document_definitions() -> dict[str, ChurnDefinition]:
    """The definitions written as YAML in the project's ``definitions/`` folder, by name."""
    found = [load_definition(path) for path in sorted(DEFINITIONS_DIR.glob("*.yaml"))]
    return {d.name: d for d in found}


def get_definition(model_name: str | None = None) -> ChurnDefinition:
    """The definition of ``model_name`` (default: the built-in model); a one-line error naming
    the known ones otherwise."""
    known = builtin_definitions()
    name = model_name or get_settings().model_name
    if name not in known:
        raise UnknownModelError(
            f"no built-in churn definition is named {name!r} (built-in: {', '.join(known)}); "
            "a declared source's churn-<name> is trained with make declare SPEC=..."
        )
    return known[name]
