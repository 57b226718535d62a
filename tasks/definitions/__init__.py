"""Churn definitions: entity, sources, feature views, label rule and horizon → a registered model.

``get_definition(model_name)`` is how a stage finds what a model is; nothing switches models by
changing global settings. The built-in definitions live in ``catalog``. A team's declared source
(``churn-<name>``, ``make table SPEC=...``) is still resolved by ``tasks.owndata`` from its spec.
Importing this package connects to nothing and reads no file.
"""

from __future__ import annotations

from core.settings import get_settings
from tasks.definitions.catalog import builtin_definition
from tasks.definitions.objects import ChurnDefinition, Entity, FeatureView, Source

__all__ = [
    "ChurnDefinition",
    "Entity",
    "FeatureView",
    "Source",
    "UnknownModelError",
    "builtin_definitions",
    "get_definition",
]

LONG_HORIZON_DAYS = 90


class UnknownModelError(LookupError):
    """No definition has this model name."""


def builtin_definitions() -> dict[str, ChurnDefinition]:
    """The built-in models by name: ``churn-model`` at the settings' horizon, and the same views
    at a 90-day horizon (``churn-model-90d``)."""
    settings = get_settings()
    base = settings.model_name
    return {
        base: builtin_definition(base, settings.horizon_days),
        f"{base}-{LONG_HORIZON_DAYS}d": builtin_definition(
            f"{base}-{LONG_HORIZON_DAYS}d", LONG_HORIZON_DAYS
        ),
    }


def get_definition(model_name: str | None = None) -> ChurnDefinition:
    """The definition of ``model_name`` (default: the built-in model); a one-line error naming
    the known ones otherwise."""
    known = builtin_definitions()
    name = model_name or get_settings().model_name
    if name not in known:
        raise UnknownModelError(
            f"no built-in churn definition is named {name!r} (built-in: {', '.join(known)}); "
            "a declared source's churn-<name> is trained with make table SPEC=..."
        )
    return known[name]
