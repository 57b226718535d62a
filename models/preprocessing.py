"""Feature frame → model matrix, driven by the feature definitions the model was trained on.

The spec (feature order, allowed categories, definitions hash) travels with the model, so training
and serving build exactly the same matrix. An unseen category becomes missing instead of an error:
XGBoost routes missing values down the learned default branch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd


class FeatureLike(Protocol):
    """What preprocessing needs from a feature definition (``tasks.features.definitions``)."""

    @property
    def name(self) -> str: ...

    @property
    def dtype(self) -> str: ...


@dataclass(frozen=True)
class FeatureSpec:
    """Ordered model inputs: numeric features plus categoricals with a fixed category order."""

    names: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    definitions_hash: str = ""
    # rules the trees must obey: +1 = risk never falls as the feature grows, -1 = never rises
    monotone: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.categories) - set(self.names))
        if unknown:
            raise ValueError(f"categories given for {unknown}, which are not among the features")
        numeric = set(self.names) - set(self.categories)
        bad = {k: v for k, v in self.monotone.items() if k not in numeric}
        if bad or not set(self.monotone.values()) <= {-1, 1}:
            raise ValueError(
                f"monotone constraints {dict(self.monotone)} must map numeric features to +1/-1; "
                f"invalid: {bad or 'values'}"
            )
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate feature names in {self.names}")

    @classmethod
    def from_definitions(
        cls,
        features: Iterable[FeatureLike],
        *,
        categories: Mapping[str, Iterable[str]],
        definitions_hash: str,
        monotone: Mapping[str, int] | None = None,
    ) -> FeatureSpec:
        """Build the spec from feature definitions; every categorical needs its category list."""
        features = tuple(features)
        cats: dict[str, tuple[str, ...]] = {}
        for feature in features:
            if feature.dtype == "category":
                if feature.name not in categories:
                    raise ValueError(
                        f"categorical feature {feature.name!r} has no entry in CATEGORIES; "
                        "declare its allowed values next to its definition"
                    )
                cats[feature.name] = tuple(categories[feature.name])
        return cls(
            names=tuple(f.name for f in features),
            categories=cats,
            definitions_hash=definitions_hash,
            monotone=dict(monotone or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored next to the model."""
        return {
            "names": list(self.names),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "definitions_hash": self.definitions_hash,
            "monotone": dict(self.monotone),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            names=tuple(data["names"]),
            categories={k: tuple(v) for k, v in data["categories"].items()},
            definitions_hash=str(data["definitions_hash"]),
            monotone={k: int(v) for k, v in data["monotone"].items()},
        )


def to_model_matrix(frame: pd.DataFrame, *, spec: FeatureSpec) -> pd.DataFrame:
    """The spec's features in order: numerics → float64, categoricals → fixed pd.Categorical."""
    missing = [name for name in spec.names if name not in frame.columns]
    if missing:
        raise ValueError(
            f"feature frame lacks {missing}, required by the model's feature definitions "
            f"(hash {spec.definitions_hash[:12] or '?'}); rebuild the features with the same "
            "definitions the model was trained on"
        )
    columns: dict[str, Any] = {}
    for name in spec.names:
        values = frame[name]
        if name in spec.categories:
            # Values outside the fixed categories (typos, new plans) become NaN = missing.
            columns[name] = pd.Categorical(
                values.astype(object).where(values.notna(), None),
                categories=list(spec.categories[name]),
            )
        else:
            columns[name] = _to_float(values, name=name)
    # copy=False: one block per column, no consolidated copy of the whole matrix (a training
    # partition is ~1M rows); float64 columns share the caller's memory and are never written.
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _to_float(values: pd.Series, *, name: str) -> pd.Series:
    try:
        numeric = pd.to_numeric(values, errors="raise")
        # no copy of a column that is float64 already (a training set's numeric features)
        return numeric if numeric.dtype == "float64" else numeric.astype("float64")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"numeric feature {name!r} holds non-numeric values: {exc}") from exc
