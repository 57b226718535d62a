"""Readiness: the model's feature definitions must match the online store's rows of its view and,
for a built-in model, this code's.

A declared source's model (``churn-<name>``) reads its source's view; its definitions derive from
the source's contract, not from this code, so only the store's hash is compared.

A model trained on other definitions would get feature vectors it does not understand, so the
service refuses to become ready instead of serving wrong scores. The store is asked at most every
``ttl_s`` seconds (readiness probes must not load the database).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from core.tables import online_features
from tasks.features.definitions import BUILTIN_VIEW, definitions_hash
from tasks.features.lookup import OnlineView

log = logging.getLogger(__name__)


def model_problem(model_hash: str) -> str | None:
    """Why a model with ``model_hash`` cannot run on this code's features (None: it can)."""
    code_hash = definitions_hash()
    if model_hash != code_hash:
        return (
            f"model was trained on feature definitions {model_hash[:12]}, this bento's feature "
            f"code has {code_hash[:12]}; rebuild the bento from the code the model was trained with"
        )
    return None


def store_problem(engine: Engine, view: OnlineView) -> str | None:
    """Why the online store cannot feed a model reading ``view`` (None: the view's rows answer
    with the view's hash)."""
    t = online_features.c
    query = select(t.definitions_hash).where(t.view == view.name).limit(1)
    try:
        with engine.connect() as conn:
            found = conn.execute(query).scalar()
    except SQLAlchemyError as exc:
        return f"online feature store does not answer: {type(exc).__name__}: {exc}".splitlines()[0]
    if found is None:
        return f"online feature store holds no rows of view {view.name!r}; {view.rebuild}"
    if found != view.definitions_hash:
        return (
            f"online feature store holds definitions {found[:12]} for view {view.name!r}, the"
            f" model needs {view.definitions_hash[:12]}; {view.rebuild} or serve a matching model"
        )
    return None


class Readiness:
    """Cached answer to "can this service score now?", with the reason when it cannot."""

    def __init__(self, engine: Engine, view: OnlineView, *, ttl_s: float = 2.0) -> None:
        self._engine = engine
        self._view = view
        self._ttl = ttl_s
        builtin = view.name == BUILTIN_VIEW
        self._static = model_problem(view.definitions_hash) if builtin else None
        self._checked = -ttl_s
        self.problem: str | None = self._static or "not checked yet"
        if self._static:
            log.error("service refuses to become ready: %s", self._static)

    def check(self) -> bool:
        """True when the model and the store agree; logs each change of state."""
        now = time.monotonic()
        if now - self._checked < self._ttl:
            return self.problem is None
        self._checked = now
        problem = self._static or store_problem(self._engine, self._view)
        if problem != self.problem:
            if problem:
                log.error("service not ready: %s", problem)
            else:
                log.info("service ready: model and online store agree on the feature definitions")
        self.problem = problem
        return problem is None
