"""Source registry: each module of ``tasks/ingestion/sources/`` defining ``SOURCE`` is a source.

Adding a source is one new module there; nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil

from tasks.ingestion.base import Source
from tasks.ingestion.errors import UnknownSourceError

_PACKAGE = "tasks.ingestion.sources"


def list_sources() -> list[str]:
    """Names of all registered sources, sorted."""
    package = importlib.import_module(_PACKAGE)
    return sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
    )


def get_source(name: str) -> Source:
    """The source called ``name`` (its module's ``SOURCE``)."""
    known = list_sources()
    if name not in known:
        raise UnknownSourceError(
            f"no ingestion source {name!r}; known: {', '.join(known)}. "
            f"Add tasks/ingestion/sources/{name}.py defining SOURCE to register one."
        )
    source = getattr(importlib.import_module(f"{_PACKAGE}.{name}"), "SOURCE", None)
    if not isinstance(source, Source):
        raise TypeError(f"{_PACKAGE}.{name}.SOURCE must implement tasks.ingestion.base.Source")
    return source
