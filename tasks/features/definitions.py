"""The feature set, declared once (``tasks.features.catalog``, one module per source). The same
declarations compile to the point-in-time training query and to the materialization that feeds
online serving (see ``tasks.features.compiler``).

Windows are ``(as_of - window_days, as_of]``; counts and sums are 0 when nothing happened, the
other aggregates are NULL (NaN) when there is nothing to aggregate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache

from sqlalchemy.dialects import sqlite

from tasks.features.catalog.billing import BILLING_FEATURES
from tasks.features.catalog.crm import CRM_FEATURES
from tasks.features.catalog.helpdesk import HELPDESK_FEATURES
from tasks.features.compiler import compile_source_queries
from tasks.features.spec import FeatureDef

__all__ = [
    "BUILTIN_VIEW",
    "CATEGORIES",
    "FEATURES",
    "FeatureDef",
    "definitions_hash",
    "feature_names",
]

FEATURES: tuple[FeatureDef, ...] = CRM_FEATURES + BILLING_FEATURES + HELPDESK_FEATURES
# The online-store key of FEATURES: the names of the catalog's views (tasks.definitions.catalog),
# which every built-in definition shares and one materialization computes in one pass.
BUILTIN_VIEW = "crm+billing+helpdesk"

# Allowed values of each categorical feature, in a fixed order (the model's encoding).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "plan": ("basic", "standard", "premium"),
    "contract": ("month-to-month", "one-year", "two-year"),
    "payment_method": ("credit_card", "bank_transfer", "electronic_check", "mailed_check"),
    "region": ("north", "south", "east", "west"),
}


def feature_names(features: Sequence[FeatureDef] = FEATURES) -> list[str]:
    """Feature column names in declaration order."""
    return [fd.name for fd in features]


def definitions_hash(
    features: Sequence[FeatureDef] = FEATURES,
    *,
    categories: Mapping[str, Sequence[str]] = CATEGORIES,
) -> str:
    """sha256 of what the features compute: names, dtypes, categories and the compiled SQL."""
    names = set(feature_names(features))
    used = tuple(sorted((k, tuple(v)) for k, v in categories.items() if k in names))
    return _hash(tuple(features), used)


@lru_cache(maxsize=8)
def _hash(
    features: tuple[FeatureDef, ...], categories: tuple[tuple[str, tuple[str, ...]], ...]
) -> str:
    dialect = sqlite.dialect()
    queries = compile_source_queries(features)
    document = {
        "features": [[fd.name, fd.dtype, fd.source.name] for fd in features],
        "categories": {k: list(v) for k, v in categories},
        "sql": {
            source: str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            for source, query in sorted(queries.items())
        },
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _check_unique(features: Sequence[FeatureDef]) -> None:
    seen: set[str] = set()
    for fd in features:
        if fd.name in seen:
            raise ValueError(
                f"feature {fd.name!r} is declared twice in tasks/features/definitions.py"
            )
        seen.add(fd.name)
    missing = [fd.name for fd in features if fd.dtype == "category" and fd.name not in CATEGORIES]
    if missing:
        raise ValueError(f"categorical features {missing} have no allowed values in CATEGORIES")


_check_unique(FEATURES)
