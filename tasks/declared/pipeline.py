"""A declared source end to end, as plain functions: ingest → features → training set.

Flows wire these through ``tasks.declared.steps``; tests and benchmarks call them directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from tasks.declared.features import DeclaredDefinition, source_definition
from tasks.declared.labels import latest_population, snapshot_labels
from tasks.declared.source import DeclaredIngestResult, ingest_declared
from tasks.declared.spec import SourceSpec, SpecError
from tasks.declared.store import load_contract
from tasks.features.online import MaterializeResult, materialize_view
from tasks.features.retrieval import get_historical_features
from tasks.modeldata.declared import DeclaredData
from tasks.training.cutoffs import read_training_set

log = logging.getLogger(__name__)
YEAR_DAYS = 365  # an events source trains on the last year of its cutoffs by default


def ingest_source(spec: SourceSpec, *, engine: Engine) -> DeclaredIngestResult:
    """Check the spec's file(s) against the derived contract and load them (``source``)."""
    return ingest_declared(spec, engine=engine)


def load_definition(spec: SourceSpec, *, engine: Engine) -> DeclaredDefinition:
    """The source's definition, from the contract stored at its last ingest."""
    kind, contract = load_contract(spec.name, engine=engine)
    if kind != spec.kind:
        raise SpecError(
            f"source {spec.name!r} was ingested as kind {kind}, the spec now says"
            f" {spec.kind}; use another name for the other kind"
        )
    return source_definition(spec.name, kind, contract)


def build_training_frame(
    spec: SourceSpec, *, engine: Engine, max_cutoffs: int | None = None
) -> tuple[pd.DataFrame, DeclaredDefinition]:
    """customer_id, as_of, label + every feature as known at as_of; and the definitions.

    An events source trains on its latest ``max_cutoffs`` cutoffs (default: those of the last
    year, at its cadence: 12 monthly or 52 weekly ones)."""
    definition = load_definition(spec, engine=engine)
    if spec.kind == "snapshot":
        labels = snapshot_labels(spec.name, engine=engine)
        frame = get_historical_features(labels, engine=engine, features=definition.features)
    else:
        horizon = definition.horizon_days
        data = DeclaredData(definition)
        cutoffs = data.cutoffs(engine=engine, horizon_days=horizon)
        if max_cutoffs is not None:
            cutoffs = cutoffs[-max_cutoffs:]
        elif cutoffs:
            cutoffs = [c for c in cutoffs if c > cutoffs[-1] - timedelta(days=YEAR_DAYS)]
        if len(cutoffs) < 3:
            raise SpecError(
                f"{spec.name}: {len(cutoffs)} cutoff(s) with an elapsed {horizon}-day horizon;"
                " out-of-time training needs 3 (train, validation, holdout) — a longer event"
                " log, or more frequent cutoffs (cutoff_every: 7d)"
            )
        try:  # the built-in path: purge gaps, label-rate checks, row budget, then the features
            frame = read_training_set(data, engine=engine, cutoffs=cutoffs)
        except ValueError as exc:
            raise SpecError(f"{spec.name}: {exc}") from exc
    log.info(
        "%s: training set of %d rows, %d features, churn rate %.3f",
        spec.name,
        len(frame),
        len(definition.names),
        float(frame["label"].mean()),
    )
    return frame, definition


def materialize_spec(
    spec: SourceSpec,
    *,
    engine: Engine,
    as_of: datetime | None = None,
    definition: DeclaredDefinition | None = None,
) -> MaterializeResult:
    """Refresh the source's online store at ``as_of`` (default: its latest data) with
    ``definition`` (default: the one of its last ingest)."""
    if definition is None:
        definition = load_definition(spec, engine=engine)
    moment, population = latest_population(spec.name, spec.kind, engine=engine, as_of=as_of)
    return materialize_view(
        definition.online_view, definition.queries, population, moment, engine=engine
    )
