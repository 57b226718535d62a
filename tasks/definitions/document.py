"""A churn definition written as YAML: entity, sources, feature views, label, horizon, model name.

The same objects as the Python catalog (``tasks.definitions.catalog``), built from text: each
feature's value, filter, event time and denominator are expressions of
``tasks.definitions.expressions`` over its view's source table. ``definitions/simulator.yaml``
declares the simulator's three exports this way; its features compile to the same SQL as the
catalog's. Every problem is a ``DefinitionError`` naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.tables import metadata
from tasks.definitions.expressions import ExpressionError, States, parse_expression
from tasks.definitions.objects import ChurnDefinition, Entity, FeatureView, Source
from tasks.features.spec import Aggregate, Dtype, FeatureDef

LIFECYCLE_TABLE = "customers"  # what tasks.labels builds labels from


class DefinitionError(ValueError):
    """A definition document that cannot be used; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _States(_Strict):
    table: str
    key: str
    time: str


class _Source(_Strict):
    name: str
    kind: Literal["attributes", "events", "records", "lifecycle"]
    table: str
    description: str = ""
    states: _States | None = None


class _Feature(_Strict):
    name: str
    aggregate: Aggregate
    description: str
    dtype: Dtype | None = None  # default: int for counts, else float
    value: str | None = None
    filter: str | None = None
    event_time: str | None = None
    denominator: str | None = None
    window_days: int | None = None
    baseline_days: int | None = None
    ge: float | None = None  # the values its sources' contracts allow (FeatureDef.ge/le)
    le: float | None = None


class _View(_Strict):
    name: str
    source: str
    categories: dict[str, list[str]] = Field(default_factory=dict)
    features: list[_Feature]


class _Document(_Strict):
    kind: Literal["definition"]
    name: str
    entity: Entity
    horizon_days: int
    label: str
    sources: list[_Source]
    views: list[_View]
    monotone: dict[str, int] = Field(default_factory=dict)


def load_definition(path: str | Path) -> ChurnDefinition:
    """Read, validate and build the definition in ``path``; DefinitionError naming the problem."""
    where = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        parsed = _Document.model_validate(document)
    except OSError as exc:
        raise DefinitionError(f"{where}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{where}: not valid YAML ({exc})".replace("\n", " ")) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        raise DefinitionError(f"{where}: field {field!r}: {first['msg']}") from None
    try:
        return _build(parsed)
    except (ExpressionError, ValueError, KeyError) as exc:
        raise DefinitionError(f"{where}: {exc}") from None


def _table(name: str) -> Any:
    if name not in metadata.tables:
        raise ValueError(f"no warehouse table {name!r} (tables: {', '.join(metadata.tables)})")
    return metadata.tables[name]


def _build(doc: _Document) -> ChurnDefinition:
    sources = {s.name: _source(s) for s in doc.sources}
    lifecycle = [s.table for s in doc.sources if s.kind == "lifecycle"]
    if lifecycle != [LIFECYCLE_TABLE]:
        raise ValueError(
            f"sources: labels come from one lifecycle source on table {LIFECYCLE_TABLE!r} (the"
            f" CRM's signup and cancel dates), found {lifecycle}; a team's own subscriptions"
            " file is declared with make declare SPEC=... (docs/declared-sources.md)"
        )
    states = {
        s.name: States(_table(s.states.table), s.states.key, s.states.time)
        for s in doc.sources
        if s.states is not None
    }
    views = []
    for view in doc.views:
        if view.source not in sources:
            raise ValueError(f"view {view.name!r} reads source {view.source!r}, not declared")
        source = sources[view.source]
        table = _table(source.table)
        features = tuple(
            _feature(f, table=table, states=states.get(view.source)) for f in view.features
        )
        categories = {k: tuple(v) for k, v in view.categories.items()}
        views.append(FeatureView(view.name, source, features, categories))
    return ChurnDefinition(
        name=doc.name,
        entity=doc.entity,
        sources=tuple(sources.values()),
        views=tuple(views),
        label=doc.label,
        horizon_days=doc.horizon_days,
        monotone=doc.monotone,
    )


def _source(source: _Source) -> Source:
    _table(source.table)
    return Source(source.name, source.kind, source.table, source.description)


def _feature(feature: _Feature, *, table: Any, states: States | None) -> FeatureDef:
    def expression(text: str | None) -> Any:
        return None if text is None else parse_expression(text, table=table, states=states)

    try:
        return FeatureDef(
            name=feature.name,
            dtype=feature.dtype or ("int" if feature.aggregate == "count" else "float"),
            description=feature.description,
            source=table,
            aggregate=feature.aggregate,
            value=expression(feature.value),
            window_days=feature.window_days,
            filter=expression(feature.filter),
            event_time=expression(feature.event_time),
            denominator=expression(feature.denominator),
            baseline_days=feature.baseline_days,
            ge=feature.ge,
            le=feature.le,
        )
    except ExpressionError as exc:
        raise ExpressionError(f"feature {feature.name!r}: {exc}") from None
