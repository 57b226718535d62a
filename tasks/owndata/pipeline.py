"""A declared source end to end, as plain functions: ingest → features → training set.

Flows wire these through ``tasks.owndata.steps``; tests and benchmarks call them directly.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Select

from core.names import DEFAULT_MAX_CUTOFFS
from core.settings import get_settings
from tasks.features.online import MaterializeResult, materialize_view
from tasks.owndata.features import SourceFeatures, source_features
from tasks.owndata.ingest_events import ingest_events
from tasks.owndata.ingest_snapshot import ingest_snapshot
from tasks.owndata.labels import (
    available_cutoffs,
    events_labels,
    events_population,
    events_watermark,
    latest_snapshot,
    snapshot_labels,
    snapshot_population,
)
from tasks.owndata.retrieval import get_source_historical_features
from tasks.owndata.spec import SourceSpec, SpecError
from tasks.owndata.store import OwnIngestResult, load_contract
from tasks.training.cutoffs import split_cutoffs

log = logging.getLogger(__name__)


def ingest_source(spec: SourceSpec, *, engine: Engine) -> OwnIngestResult:
    """Check the spec's file(s) against the derived contract and load them (see ingest_*)."""
    if spec.kind == "snapshot":
        return ingest_snapshot(spec, engine=engine)
    return ingest_events(spec, engine=engine)


def load_features(spec: SourceSpec, *, engine: Engine) -> SourceFeatures:
    """The source's feature definitions, from the contract stored at its last ingest."""
    features = stored_features(spec.name, engine=engine)
    if features.kind != spec.kind:
        raise SpecError(
            f"source {spec.name!r} was ingested as kind {features.kind}, the spec now says"
            f" {spec.kind}; use another name for the other kind"
        )
    return features


def stored_features(source: str, *, engine: Engine) -> SourceFeatures:
    """The feature definitions of an ingested source, by name (its stored contract)."""
    kind, contract = load_contract(source, engine=engine)
    return source_features(source, kind, contract)


def latest_population(
    source: str, kind: str, *, engine: Engine, as_of: datetime | None = None
) -> tuple[datetime, Select[Any]]:
    """(moment, SELECT of its customer ids): the customers to serve at ``as_of`` (default: the
    source's latest data) — the latest snapshot's rows that have not churned, or everyone with
    an active subscription."""
    if kind == "snapshot":
        moment = as_of or latest_snapshot(source, engine=engine)
        return moment, snapshot_population(source, moment)
    watermark = events_watermark(source, engine=engine)
    if watermark is None:
        raise SpecError(f"source {source!r} holds no events; ingest it first")
    moment = as_of or watermark
    return moment, events_population(source, moment)


def horizon_of(spec: SourceSpec) -> int:
    """The label horizon of an events source (spec, else settings)."""
    return spec.horizon_days or get_settings().horizon_days


def build_training_frame(
    spec: SourceSpec, *, engine: Engine, max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS
) -> tuple[pd.DataFrame, SourceFeatures]:
    """customer_id, as_of, label + every feature as known at as_of; and the definitions."""
    features = load_features(spec, engine=engine)
    if spec.kind == "snapshot":
        labels = snapshot_labels(spec.name, engine=engine)
    else:
        horizon = horizon_of(spec)
        cutoffs = available_cutoffs(spec.name, engine=engine, horizon_days=horizon)
        if max_cutoffs:
            cutoffs = cutoffs[-max_cutoffs:]
        if len(cutoffs) < 3:
            raise SpecError(
                f"{spec.name}: {len(cutoffs)} monthly cutoff(s) with an elapsed {horizon}-day"
                " horizon; out-of-time training needs 3 (train, validation, holdout) — the"
                " event log must span about 4 months or more"
            )
        try:  # the purge gaps of the fit (tasks.training.fit_model), before the features
            split_cutoffs(cutoffs, horizon_days=horizon)
        except ValueError as exc:
            raise SpecError(f"{spec.name}: {exc}") from exc
        labels = events_labels(spec.name, cutoffs, horizon, engine=engine)
    frame = get_source_historical_features(labels, features, engine=engine)
    log.info(
        "%s: training set of %d rows, %d features, churn rate %.3f",
        spec.name,
        len(frame),
        len(features.names),
        float(frame["label"].mean()),
    )
    return frame, features


def materialize_spec(
    spec: SourceSpec,
    *,
    engine: Engine,
    as_of: datetime | None = None,
    features: SourceFeatures | None = None,
) -> MaterializeResult:
    """Refresh the source's online store at ``as_of`` (default: its latest data) with
    ``features`` (default: the definitions of its last ingest)."""
    if features is None:
        features = load_features(spec, engine=engine)
    moment, population = latest_population(spec.name, spec.kind, engine=engine, as_of=as_of)
    return materialize_view(
        features.online_view, features.queries, population, moment, engine=engine
    )
