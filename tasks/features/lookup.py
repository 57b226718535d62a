"""Online lookup: feature vectors by (view, customer_id), with their freshness, from
``online_features`` — the built-in catalog's rows and a declared source's alike.

A lookup names its ``OnlineView`` (default: the built-in catalog's) and refuses rows materialized
from other definitions than the view's hash, the model's. The serving path
(``lookup_online_rows``) runs one cached statement on a raw DBAPI connection: no SQLAlchemy
compilation and no pandas per request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from core.tables import online_features
from tasks.features.definitions import BUILTIN_VIEW, FEATURES, definitions_hash

_LOOKUP_CHUNK = 10_000


class StaleFeaturesError(RuntimeError):
    """A view's online rows were materialized from other feature definitions than the model's."""


@dataclass(frozen=True)
class OnlineView:
    """One key of the online store: its name, its features' types (model order) and the
    definitions hash its rows must carry."""

    name: str
    dtypes: Mapping[str, str]
    definitions_hash: str

    @property
    def rebuild(self) -> str:
        """What to run when the view's rows are missing or stale."""
        if self.name == BUILTIN_VIEW:
            return "run the build_features flow to rematerialize"
        return f"rerun `make declare` for source {self.name!r} to rematerialize"


@cache
def builtin_view() -> OnlineView:
    """The built-in catalog's view: every built-in definition reads it."""
    return OnlineView(BUILTIN_VIEW, {fd.name: fd.dtype for fd in FEATURES}, definitions_hash())


@dataclass(frozen=True)
class OnlineFeatures:
    """Looked-up feature vectors: ``frame`` has customer_id + features (dtypes as historical)."""

    frame: pd.DataFrame
    as_of: dict[str, datetime]
    definitions_hash: str
    unknown_ids: list[str]


def lookup_online_rows(
    ids: Sequence[str], *, engine: Engine, view: OnlineView | None = None
) -> dict[str, dict[str, Any]]:
    """Primary-key lookup for the serving path: ``{customer_id: {"as_of", "features"}}`` of the
    known ids in ``view`` (default: the built-in catalog's).

    Unknown ids are absent. Raises StaleFeaturesError when a row was materialized from other
    feature definitions than the view's.
    """
    view = view or builtin_view()
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        for cid, as_of, digest, document in _select_rows(engine, view.name, chunk):
            if digest != view.definitions_hash:
                raise StaleFeaturesError(
                    f"online_features row ({view.name!r}, {cid!r}) was materialized with"
                    f" definitions {digest[:12]}, the model needs {view.definitions_hash[:12]};"
                    f" {view.rebuild}"
                )
            if isinstance(as_of, str):  # raw SQLite text
                as_of = datetime.fromisoformat(as_of)
            found[cid] = {"as_of": as_of, "features": json.loads(document)}
    return found


def get_online_features(
    customer_ids: Sequence[str], *, engine: Engine, view: OnlineView | None = None
) -> OnlineFeatures:
    """Feature vectors of the known ids (in request order) in ``view`` (default: the built-in
    catalog's), typed as in training, their as_of, and the unknown ids."""
    view = view or builtin_view()
    wanted = list(dict.fromkeys(str(cid) for cid in customer_ids))
    rows = lookup_online_rows(wanted, engine=engine, view=view)
    known = [cid for cid in wanted if cid in rows]
    data: dict[str, Any] = {"customer_id": pd.Series(known, dtype=object)}
    for name, dtype in view.dtypes.items():
        values = [rows[cid]["features"].get(name) for cid in known]
        if dtype == "category":
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = pd.Series(np.array(values, dtype=np.float64), dtype=np.float64)
    return OnlineFeatures(
        frame=pd.DataFrame(data),
        as_of={cid: rows[cid]["as_of"] for cid in known},
        definitions_hash=view.definitions_hash,
        unknown_ids=[cid for cid in wanted if cid not in rows],
    )


@dataclass(frozen=True)
class OnlineStoreStatus:
    """Size and freshness of the online store."""

    rows: int
    as_of: datetime | None
    materialized_at: datetime | None
    definitions_hashes: list[str]


def describe_online_store(*, engine: Engine, view: str = BUILTIN_VIEW) -> OnlineStoreStatus:
    """Row count, as_of, materialization time and definition hashes of ``view``'s rows."""
    t = online_features.c
    with engine.connect() as conn:
        rows, as_of, written = conn.execute(
            select(func.count(), func.max(t.as_of), func.max(t.materialized_at)).where(
                t.view == view
            )
        ).one()
        hashes = conn.execute(select(t.definitions_hash).distinct().where(t.view == view))
        return OnlineStoreStatus(int(rows), as_of, written, sorted(hashes.scalars()))


def online_customer_ids(view: str, *, engine: Engine) -> list[str]:
    """Every customer with a row in ``view`` (the population at its materialization), sorted."""
    t = online_features.c
    with engine.connect() as conn:
        ids = conn.execute(select(t.customer_id).where(t.view == view).order_by(t.customer_id))
        return [str(cid) for cid in ids.scalars()]


def _select_rows(engine: Engine, view: str, ids: list[str]) -> list[tuple[Any, ...]]:
    """Fetch (customer_id, as_of, definitions_hash, features) on a raw DBAPI connection."""
    if not ids:
        return []
    sql = _lookup_sql(engine.dialect.name, len(ids))
    params: Any = [view, ids] if engine.dialect.name == "postgresql" else [view, *ids]
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
        return f"{columns} WHERE view = %s AND customer_id = ANY(%s)"
    if dialect == "sqlite":
        return f"{columns} WHERE view = ? AND customer_id IN ({', '.join('?' * n)})"
    raise NotImplementedError(
        f"online lookup has no raw SQL for dialect {dialect!r}; add one in tasks/features/lookup.py"
    )
