"""Readiness: the model's feature definitions must match this code's and the online store's.

A declared source's model (``churn-<name>``) is checked against that source's rows of
``source_online_features`` instead; its definitions derive from the source's contract, not from
this code, so only the store's hash is compared.

A model trained on other definitions would get feature vectors it does not understand, so the
service refuses to become ready instead of serving wrong scores. The store is asked at most every
``ttl_s`` seconds (readiness probes must not load the database).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from core.tables import online_features, source_online_features
from tasks.features.definitions import definitions_hash

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


def store_problem(engine: Engine, model_hash: str, *, source: str | None = None) -> str | None:
    """Why the online store (of ``source``, when given) cannot feed the model (None: it answers
    with the model's hash)."""
    if source is None:
        query = select(online_features.c.definitions_hash).limit(1)
        rebuild = "rematerialize (build_features)"
    else:
        t = source_online_features.c
        query = select(t.definitions_hash).where(t.source == source).limit(1)
        rebuild = f"rerun `make table` for source {source!r}"
    try:
        with engine.connect() as conn:
            found = conn.execute(query).scalar()
    except SQLAlchemyError as exc:
        return f"online feature store does not answer: {type(exc).__name__}: {exc}".splitlines()[0]
    if found is None:
        if source is None:
            return "online feature store is empty; run the build_features flow"
        return f"online feature store holds no rows of source {source!r}; {rebuild}"
    if found != model_hash:
        return (
            f"online feature store holds definitions {found[:12]}, the model needs "
            f"{model_hash[:12]}; {rebuild} or serve a matching model"
        )
    return None


class Readiness:
    """Cached answer to "can this service score now?", with the reason when it cannot."""

    def __init__(
        self, engine: Engine, model_hash: str, *, source: str | None = None, ttl_s: float = 2.0
    ) -> None:
        self._engine = engine
        self._hash = model_hash
        self._source = source
        self._ttl = ttl_s
        self._static = model_problem(model_hash) if source is None else None
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
        problem = self._static or store_problem(self._engine, self._hash, source=self._source)
        if problem != self.problem:
            if problem:
                log.error("service not ready: %s", problem)
            else:
                log.info("service ready: model and online store agree on the feature definitions")
        self.problem = problem
        return problem is None
