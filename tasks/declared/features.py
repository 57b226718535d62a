"""Feature definitions of a declared source, derived from its stored contract.

The same mechanism as the built-in sources: each feature is a SQLAlchemy expression evaluated
inside the database over the per-connection entity table ``(customer_id, as_of)``, compiled once
into the point-in-time query that training and online materialization both run.

- snapshot: every contract column is an attribute of the latest snapshot row with
  ``snapshot_at <= as_of`` (read from its JSON document);
- events: per event type, count and sum over (as_of - 7/30/90 days, as_of] and days since the
  latest event up to as_of — ``tasks.features.spec.FeatureDef`` declarations compiled by
  ``tasks.features.events``, exactly like the billing and helpdesk features.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Select, and_, func
from sqlalchemy.dialects import sqlite

from core.tables import source_events, source_snapshots
from models.preprocessing import FeatureSpec
from tasks.declared.contract import SnapshotContract
from tasks.declared.reader import feature_key
from tasks.features.compiler import compile_source_queries
from tasks.features.lookup import OnlineView
from tasks.features.spec import FeatureDef

EVENT_WINDOWS = (7, 30, 90)


@dataclass(frozen=True, eq=False)
class SourceFeatures:
    """A declared source's feature view: its ``FeatureDef``s (compiled by the one compiler) and
    the allowed values of its categoricals."""

    source: str
    kind: str
    features: tuple[FeatureDef, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [fd.name for fd in self.features]

    @property
    def dtypes(self) -> dict[str, str]:
        return {fd.name: fd.dtype for fd in self.features}

    @cached_property
    def queries(self) -> dict[str, Select[Any]]:
        """Per-source SELECTs (row_id + feature columns, one row per entity row)."""
        return compile_source_queries(self.features)

    @cached_property
    def definitions_hash(self) -> str:
        """sha256 of what the features compute: source, names, dtypes, categories, SQL (the
        same document since declared sources began, so their champions keep serving)."""
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

    @property
    def online_view(self) -> OnlineView:
        """The source's key of the online store: its rows carry the source's name."""
        return OnlineView(self.source, self.dtypes, self.definitions_hash)

    def feature_spec(self) -> FeatureSpec:
        """The model's input spec (order, categories, definitions hash)."""
        return FeatureSpec(
            names=tuple(self.names),
            categories=dict(self.categories),
            definitions_hash=self.definitions_hash,
        )


def snapshot_features(source: str, contract: SnapshotContract) -> SourceFeatures:
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
    return SourceFeatures(source, "snapshot", defs, categories)


def event_feature_defs(source: str, event_types: list[str], *, has_value: bool) -> list[FeatureDef]:
    """Count (and sum) per event type over each window, and days since its latest event."""
    defs: list[FeatureDef] = []
    used: set[str] = set()
    for event_type in event_types:
        key = feature_key(event_type)
        while key in used:
            key += "_"
        used.add(key)
        of_type = and_(source_events.c.source == source, source_events.c.event_type == event_type)
        for days in EVENT_WINDOWS:
            defs.append(
                FeatureDef(
                    name=f"{key}_count_{days}d",
                    dtype="int",
                    description=f"{event_type!r} events in the last {days} days",
                    source=source_events,
                    aggregate="count",
                    window_days=days,
                    filter=of_type,
                )
            )
            if has_value:
                defs.append(
                    FeatureDef(
                        name=f"{key}_sum_{days}d",
                        dtype="float",
                        description=f"sum of {event_type!r} values in the last {days} days",
                        source=source_events,
                        aggregate="sum",
                        value=func.coalesce(source_events.c.value, 0.0),
                        window_days=days,
                        filter=of_type,
                    )
                )
        defs.append(
            FeatureDef(
                name=f"days_since_last_{key}",
                dtype="float",
                description=f"days since the latest {event_type!r} event (NaN: never)",
                source=source_events,
                aggregate="days_since_last",
                filter=of_type,
            )
        )
    return defs


def event_features(source: str, contract: dict[str, Any]) -> SourceFeatures:
    """Per-event-type features of an events source (see ``event_feature_defs``)."""
    types = list(contract["event_types"])
    if not types:
        raise ValueError(f"source {source!r} has no valid events; nothing to build features from")
    defs = event_feature_defs(source, types, has_value=bool(contract["has_value"]))
    return SourceFeatures(source, "events", tuple(defs))


def source_features(source: str, kind: str, contract: dict[str, Any]) -> SourceFeatures:
    """The feature set of a source from its stored contract (``tasks.declared.store``)."""
    if kind == "snapshot":
        return snapshot_features(source, SnapshotContract.from_dict(contract))
    return event_features(source, contract)
