"""What a churn model is made of, as typed objects every stage can take as a parameter.

In the spirit of Feast's entities, data sources and feature views: an ``Entity`` (the customer and
its id), ``Source``s of a few kinds (one warehouse table per export), ``FeatureView``s (the
``FeatureDef``s over one source), and a ``ChurnDefinition`` that ties them to a label rule, a
horizon and a registered model name. The definitions hash covers the features only — not the label
rule or the horizon — so two definitions over the same views share their feature computation and
their online rows (e.g. the built-in sources at a 30-day and a 90-day horizon).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import Select

from models.preprocessing import FeatureSpec
from tasks.features.compiler import compile_source_queries
from tasks.features.definitions import definitions_hash
from tasks.features.lookup import OnlineView
from tasks.features.spec import FeatureDef

SourceKind = Literal["attributes", "events", "records", "lifecycle"]
MODEL_PREFIX = "churn-"


@dataclass(frozen=True)
class Entity:
    """Who a prediction is about, and the column that identifies it in every source."""

    name: str = "customer"
    key: str = "customer_id"


@dataclass(frozen=True)
class Source:
    """One export kept by the warehouse in ``table``.

    Kinds: ``attributes`` (history of attributes: SCD2 versions, or one snapshot per date),
    ``events`` (time, type, optional value), ``records`` (stateful records with a state history,
    e.g. tickets), ``lifecycle`` (subscriptions: population and labels).
    """

    name: str
    kind: SourceKind
    table: str
    description: str = ""


@dataclass(frozen=True, eq=False)
class FeatureView:
    """The features declared over one source, with the allowed values of its categoricals."""

    name: str
    source: Source
    features: tuple[FeatureDef, ...]
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fd in self.features:
            if fd.source.name != self.source.table:
                raise ValueError(
                    f"view {self.name!r}: feature {fd.name!r} reads table {fd.source.name!r},"
                    f" not its source's table {self.source.table!r}"
                )
            if fd.dtype == "category" and fd.name not in self.categories:
                raise ValueError(
                    f"view {self.name!r}: categorical feature {fd.name!r} has no allowed values"
                )


@dataclass(frozen=True, eq=False)
class ChurnDefinition:
    """Entity + sources + feature views + label rule and horizon → registered model ``name``."""

    name: str
    entity: Entity
    sources: tuple[Source, ...]
    views: tuple[FeatureView, ...]
    label: str
    horizon_days: int
    monotone: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.startswith(MODEL_PREFIX):
            raise ValueError(f"model name {self.name!r} must start with {MODEL_PREFIX!r}")
        if self.horizon_days < 1:
            raise ValueError(f"{self.name}: horizon_days must be >= 1, got {self.horizon_days}")
        unknown = [v.name for v in self.views if v.source not in self.sources]
        if unknown:
            raise ValueError(f"{self.name}: views {unknown} read sources it does not declare")
        seen: set[str] = set()
        for fd in self.features:
            if fd.name in seen:
                raise ValueError(f"{self.name}: feature {fd.name!r} is declared twice")
            seen.add(fd.name)

    @property
    def features(self) -> tuple[FeatureDef, ...]:
        """Every feature, view by view, in declaration order (the model's column order)."""
        return tuple(fd for view in self.views for fd in view.features)

    @property
    def names(self) -> list[str]:
        return [fd.name for fd in self.features]

    @property
    def dtypes(self) -> dict[str, str]:
        """Feature name → ``float`` | ``int`` | ``category``, in model order."""
        return {fd.name: fd.dtype for fd in self.features}

    @property
    def categories(self) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v) for view in self.views for k, v in view.categories.items()}

    @cached_property
    def queries(self) -> dict[str, Select[Any]]:
        """Per-table SELECTs (row_id + feature columns, one row per entity row)."""
        return compile_source_queries(self.features)

    @cached_property
    def definitions_hash(self) -> str:
        """sha256 of what the features compute (names, dtypes, categories, compiled SQL)."""
        return definitions_hash(self.features, categories=self.categories)

    @property
    def online_view(self) -> OnlineView:
        """The definition's key of the online store: its views' names, so definitions sharing
        every view share their rows (materialized once)."""
        return OnlineView("+".join(v.name for v in self.views), self.dtypes, self.definitions_hash)

    def feature_spec(self) -> FeatureSpec:
        """The model's input spec: column order, categories, definitions hash, monotonicity."""
        return FeatureSpec.from_definitions(
            self.features,
            categories=self.categories,
            definitions_hash=self.definitions_hash,
            monotone=dict(self.monotone),
        )
