"""Online lookup: feature vectors by customer_id, with their freshness, from ``online_features``.

The serving path (``lookup_online_rows``) runs one cached statement on a raw DBAPI connection:
no SQLAlchemy compilation and no pandas per request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from core.tables import online_features
from tasks.features.definitions import FEATURES, definitions_hash

_LOOKUP_CHUNK = 10_000


class StaleFeaturesError(RuntimeError):
    """The online store was materialized from other feature definitions than this code's."""


@dataclass(frozen=True)
class OnlineFeatures:
    """Looked-up feature vectors: ``frame`` has customer_id + features (dtypes as historical)."""

    frame: pd.DataFrame
    as_of: dict[str, datetime]
    definitions_hash: str
    unknown_ids: list[str]


def lookup_online_rows(ids: Sequence[str], *, engine: Engine) -> dict[str, dict[str, Any]]:
    """Primary-key lookup for the serving path: ``{customer_id: {"as_of", "features"}}``.

    Unknown ids are absent. Raises StaleFeaturesError when a row was materialized from other
    feature definitions than the current code's.
    """
    wanted = list(dict.fromkeys(ids))
    current = definitions_hash()
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        for cid, as_of, digest, document in _select_rows(
            engine, wanted[start : start + _LOOKUP_CHUNK]
        ):
            if digest != current:
                raise StaleFeaturesError(
                    f"online_features row {cid!r} was materialized with definitions {digest[:12]},"
                    f" this code has {current[:12]}; run the build_features flow to rematerialize"
                )
            if isinstance(as_of, str):  # raw SQLite text
                as_of = datetime.fromisoformat(as_of)
            found[cid] = {"as_of": as_of, "features": json.loads(document)}
    return found


def get_online_features(customer_ids: Sequence[str], *, engine: Engine) -> OnlineFeatures:
    """Feature vectors of the known ids (in request order), their as_of, and the unknown ids."""
    wanted = list(dict.fromkeys(customer_ids))
    rows = lookup_online_rows(wanted, engine=engine)
    known = [cid for cid in wanted if cid in rows]
    data: dict[str, Any] = {"customer_id": pd.Series(known, dtype=object)}
    for fd in FEATURES:
        values = [rows[cid]["features"].get(fd.name) for cid in known]
        if fd.dtype == "category":
            data[fd.name] = pd.Series(values, dtype=object)
        else:
            data[fd.name] = pd.Series(np.array(values, dtype=np.float64), dtype=np.float64)
    return OnlineFeatures(
        frame=pd.DataFrame(data),
        as_of={cid: rows[cid]["as_of"] for cid in known},
        definitions_hash=definitions_hash(),
        unknown_ids=[cid for cid in wanted if cid not in rows],
    )


@dataclass(frozen=True)
class OnlineStoreStatus:
    """Size and freshness of the online store."""

    rows: int
    as_of: datetime | None
    materialized_at: datetime | None
    definitions_hashes: list[str]


def describe_online_store(*, engine: Engine) -> OnlineStoreStatus:
    """Row count, as_of, materialization time and definition hashes present in the store."""
    t = online_features.c
    with engine.connect() as conn:
        rows, as_of, written = conn.execute(
            select(func.count(), func.max(t.as_of), func.max(t.materialized_at))
        ).one()
        hashes = conn.execute(select(t.definitions_hash).distinct()).scalars().all()
    return OnlineStoreStatus(int(rows), as_of, written, sorted(hashes))


def _select_rows(engine: Engine, ids: list[str]) -> list[tuple[Any, ...]]:
    """Fetch (customer_id, as_of, definitions_hash, features) on a raw DBAPI connection."""
    if not ids:
        return []
    sql = _lookup_sql(engine.dialect.name, len(ids))
    params: Any = [ids] if engine.dialect.name == "postgresql" else ids
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        raw.close()  # back to the pool
    return list(rows)


@lru_cache(maxsize=128)
def _lookup_sql(dialect: str, n: int) -> str:
    """The lookup statement text (one per dialect, per id count on SQLite)."""
    columns = "SELECT customer_id, as_of, definitions_hash, features FROM online_features"
    if dialect == "postgresql":
        return f"{columns} WHERE customer_id = ANY(%s)"
    if dialect == "sqlite":
        return f"{columns} WHERE customer_id IN ({', '.join('?' * n)})"
    raise NotImplementedError(
        f"online lookup has no raw SQL for dialect {dialect!r}; add one in tasks/features/lookup.py"
    )
