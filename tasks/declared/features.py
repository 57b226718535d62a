"""Feature definitions of a declared source, derived from its stored contract.

The same mechanism as the built-in sources: each feature is a SQLAlchemy expression evaluated
inside the database over the per-connection entity table ``(customer_id, as_of)``, compiled once
into the point-in-time query that training and online materialization both run.

- snapshot: every contract column is an attribute of the latest snapshot row with
  ``snapshot_at <= as_of`` (read from its JSON document);
- events: per event type (the most frequent ``MAX_EVENT_TYPES``), count and sum over
  (as_of - w days, as_of] for each of the spec's ``windows`` (default 7, 30, 90), days since its
  latest event, and its recent-vs-earlier rates (each window over the next: events per day in
  the last 7 days / per day in days 8-30, in the last 30 / in days 31-90); over all events: the
  same rates, active days and events per active day per window, days since the latest event and
  the account's age (days since its first event)
  — ``tasks.features.spec.FeatureDef`` declarations compiled by ``tasks.features.events``,
  exactly like the billing and helpdesk features. A source loaded before these shapes existed
  (its stored contract has no ``feature_set``) keeps its original features, so its champion's
  definitions hash does not change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any

from sqlalchemy import Float, and_, func, literal
from sqlalchemy.dialects import sqlite

from core.settings import get_settings
from core.tables import source_events, source_snapshots, source_subscriptions
from tasks.declared.contract import SnapshotContract
from tasks.declared.reader import feature_key
from tasks.declared.spec import model_name_of
from tasks.definitions.objects import ChurnDefinition, Entity, FeatureView, Source
from tasks.features.spec import Dtype, FeatureDef

EVENT_WINDOWS = (7, 30, 90)
# 1: counts, sums and days since per type; 2: + rates, trends, activity, age; 3: + a trend for
# every consecutive pair of windows, per type and over all events; 4: + the same pairs' trend of
# events per active day (a fading intensity of use, whatever the account's habit)
FEATURE_SET = 4


@dataclass(frozen=True, eq=False)
class DeclaredDefinition(ChurnDefinition):
    """``churn-<source>``: a declared source as a ``ChurnDefinition`` — the customer entity, the
    source (and, for an event log, the subscriptions that label it) and one feature view derived
    from the stored contract, named after the source (its key of the online store).

    ``kind`` is the spec's (``snapshot`` | ``events``); ``contract`` the stored contract the view
    was derived from (not hashed): a model version keeps it, so its features can be rebuilt after
    a later load changed the source's contract."""

    kind: str = "events"
    contract: Mapping[str, Any] = field(default_factory=dict)
    cutoff_every: str | None = None  # events: the spec's cadence; None: from the history's span

    @property
    def source(self) -> str:
        return self.views[0].name

    @cached_property
    def definitions_hash(self) -> str:
        """sha256 of what the features compute: source, names, dtypes, categories, SQL (the
        document declared sources have always been hashed with, so their champions keep
        serving)."""
        dialect = sqlite.dialect()
        document = {
            "source": self.source,
            "kind": self.kind,
            "features": [[n, d] for n, d in self.dtypes.items()],
            "categories": {k: list(v) for k, v in sorted(self.categories.items())},
            "sql": {
                k: str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                for k, q in sorted(self.queries.items())
            },
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def declared_definition(
    source: str,
    kind: str,
    contract: Mapping[str, Any],
    features: tuple[FeatureDef, ...],
    categories: Mapping[str, tuple[str, ...]] | None = None,
) -> DeclaredDefinition:
    """The definition of ``churn-<source>`` over ``features`` (derived from ``contract``)."""
    if kind == "snapshot":
        sources: tuple[Source, ...] = (
            Source(source, "attributes", source_snapshots.name, "declared table (snapshots)"),
        )
        label = "the spec's churn column at the snapshot the features come from"
    else:
        sources = (
            Source(source, "events", source_events.name, "declared event log"),
            Source(f"{source}-subscriptions", "lifecycle", source_subscriptions.name,
                   "declared subscriptions (population and labels)"),
        )  # fmt: skip
        label = "every active subscription ends within (as_of, as_of + horizon]"
    horizon = contract.get("horizon_days") if kind == "events" else None
    return DeclaredDefinition(
        name=model_name_of(source),
        entity=Entity(),
        sources=sources,
        views=(FeatureView(source, sources[0], features, dict(categories or {})),),
        label=label,
        horizon_days=int(horizon or get_settings().horizon_days),
        kind=kind,
        contract=dict(contract),
        cutoff_every=contract.get("cutoff_every") if kind == "events" else None,
    )


def snapshot_features(source: str, contract: SnapshotContract) -> DeclaredDefinition:
    """One feature per contract column: its attribute in the latest snapshot at or before as_of."""
    attributes = source_snapshots.c.attributes
    of_source = source_snapshots.c.source == source
    defs = tuple(
        FeatureDef(
            name=col.key,
            dtype="category" if col.dtype == "category" else "float",
            description=f"{col.column!r} in the latest snapshot at or before as_of",
            source=source_snapshots,
            aggregate="attr",
            value=(
                attributes[col.key].as_string()
                if col.dtype == "category"
                else attributes[col.key].as_float()
            ),
            filter=of_source,
        )
        for col in contract.columns
    )
    categories = {c.key: c.categories for c in contract.columns if c.dtype == "category"}
    return declared_definition(source, "snapshot", contract.to_dict(), defs, categories)


def event_feature_defs(
    source: str,
    event_types: list[str],
    *,
    has_value: bool,
    windows: tuple[int, ...] = EVENT_WINDOWS,
    feature_set: int = 1,
) -> list[FeatureDef]:
    """Count (and sum) per event type over each window and days since its latest event; with
    ``feature_set`` 2 also each type's recent-vs-earlier rate and the activity features over
    all events (see the module doc)."""
    events = source_events.c
    of_source = events.source == source

    def feature(name: str, aggregate: Any, description: str, **kw: Any) -> FeatureDef:
        dtype: Dtype = "int" if aggregate in {"count", "active_days"} else "float"
        return FeatureDef(name, dtype, description, source_events, aggregate, **kw)

    def trend(name: str, what: str, where: Any, recent: int, earlier: int) -> FeatureDef:
        return feature(
            name,
            "trend",
            f"{what} events per day in the last {recent} days / per day in days"
            f" {recent + 1}-{earlier} (NaN: none then)",
            value=literal(1.0, Float),
            window_days=recent,
            baseline_days=earlier,
            filter=where,
        )

    defs: list[FeatureDef] = []
    used: set[str] = set()
    for event_type in event_types:
        key = feature_key(event_type)
        while key in used:
            key += "_"
        used.add(key)
        of_type = and_(of_source, events.event_type == event_type)
        for days in windows:
            defs.append(
                feature(
                    f"{key}_count_{days}d",
                    "count",
                    f"{event_type!r} events in the last {days} days",
                    window_days=days,
                    filter=of_type,
                )
            )
            if has_value:
                defs.append(
                    feature(
                        f"{key}_sum_{days}d",
                        "sum",
                        f"sum of {event_type!r} values in the last {days} days",
                        value=func.coalesce(events.value, 0.0),
                        window_days=days,
                        filter=of_type,
                    )
                )
        defs.append(
            feature(
                f"days_since_last_{key}",
                "days_since_last",
                f"days since the latest {event_type!r} event (NaN: never)",
                filter=of_type,
            )
        )
        if feature_set >= 2:
            defs += [
                trend(f"{key}_trend_{recent}d_vs_{earlier}d", repr(event_type), of_type,
                      recent, earlier)
                for recent, earlier in trend_pairs(windows, feature_set)
            ]  # fmt: skip
    if feature_set >= 3:  # the decline of all activity, whatever the type
        defs += [
            trend(f"events_trend_{recent}d_vs_{earlier}d", "all", of_source, recent, earlier)
            for recent, earlier in trend_pairs(windows, feature_set)
        ]
    if feature_set >= 4:
        defs += [
            feature(
                f"events_per_active_day_trend_{recent}d_vs_{earlier}d",
                "per_active_day_trend",
                f"events per active day in the last {recent} days / in days"
                f" {recent + 1}-{earlier} (NaN: no active day then)",
                window_days=recent,
                baseline_days=earlier,
                filter=of_source,
            )
            for recent, earlier in trend_pairs(windows, feature_set)
        ]
    if feature_set >= 2:
        for days in windows:
            defs.append(
                feature(
                    f"active_days_{days}d",
                    "active_days",
                    f"days with any event in the last {days} days",
                    window_days=days,
                    filter=of_source,
                )
            )
            defs.append(
                feature(
                    f"events_per_active_day_{days}d",
                    "per_active_day",
                    f"events per active day in the last {days} days (NaN: no active day)",
                    window_days=days,
                    filter=of_source,
                )
            )
        defs.append(
            feature(
                "days_since_last_event",
                "days_since_last",
                "days since the latest event of any type (NaN: never)",
                filter=of_source,
            )
        )
        defs.append(
            feature(
                "account_age_days",
                "days_since_first",
                "days since the account's first event (its age in the log)",
                filter=of_source,
            )
        )
    return defs


def trend_pairs(windows: tuple[int, ...], feature_set: int) -> list[tuple[int, int]]:
    """(recent, earlier) windows of the trend features: the first two (feature set 2), every
    consecutive pair (3: e.g. 7 vs 30 and 30 vs 90 days, for declines slower than a week)."""
    pairs = list(pairwise(windows))
    return pairs[:1] if feature_set < 3 else pairs


def event_features(source: str, contract: Mapping[str, Any]) -> DeclaredDefinition:
    """Per-event-type features of an events source (see ``event_feature_defs``)."""
    types = list(contract["event_types"])
    if not types:
        raise ValueError(f"source {source!r} has no valid events; nothing to build features from")
    defs = event_feature_defs(
        source,
        types,
        has_value=bool(contract["has_value"]),
        windows=tuple(contract.get("windows") or EVENT_WINDOWS),
        feature_set=int(contract.get("feature_set", 1)),
    )
    return declared_definition(source, "events", contract, tuple(defs))


def source_definition(source: str, kind: str, contract: Mapping[str, Any]) -> DeclaredDefinition:
    """The definition of a source from its stored contract (``tasks.declared.store``)."""
    if kind == "snapshot":
        return snapshot_features(source, SnapshotContract.from_dict(dict(contract)))
    return event_features(source, contract)
