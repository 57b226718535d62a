"""Online store of a declared source: materialize its features at a moment, look them up by id.

Rows live in ``source_online_features`` keyed by (source, customer_id), with the definitions hash
of the features that produced them; a lookup refuses rows built from other definitions than the
model's (the same rule as ``tasks.features.lookup`` for the built-in sources).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, Engine, Float, Select, String, delete, func, literal, select
from sqlalchemy.sql import column, table

from core.names import utc_now
from core.tables import source_online_features
from tasks.features.entity import ENTITY, WINDOW_DAYS
from tasks.features.lookup import OnlineFeatures
from tasks.features.session import compiled_sql, feature_session
from tasks.features.sql import json_integer, json_number, json_object_text, json_text
from tasks.owndata.features import SourceFeatures
from tasks.owndata.lookup import lookup_source_rows

log = logging.getLogger(__name__)
_TEMP = "source_feature_values"


@dataclass(frozen=True)
class SourceMaterializeResult:
    """What one materialization of a source wrote."""

    source: str
    rows: int
    as_of: datetime
    definitions_hash: str
    seconds: float


def _combined(features: SourceFeatures) -> Select[Any]:
    joined: Any = ENTITY
    columns = []
    for i, query in enumerate(features.queries.values()):
        part = query.order_by(None).subquery(f"part_{i}")
        joined = joined.outerjoin(part, part.c.row_id == ENTITY.c.row_id)
        columns += [c for c in part.c if c.name != "row_id"]
    by_name = {c.name: c for c in columns}
    ordered = [by_name[name] for name in features.names]
    return select(ENTITY.c.customer_id, ENTITY.c.as_of, *ordered).select_from(joined)


def materialize_source(
    features: SourceFeatures, population: Select[Any], as_of: datetime, *, engine: Engine
) -> SourceMaterializeResult:
    """Replace the source's online rows with the features at ``as_of`` of ``population``
    (a SELECT of distinct customer_id), in one transaction."""
    started = time.perf_counter()
    digest = features.definitions_hash
    values = table(
        _TEMP,
        column("customer_id", String),
        column("as_of", DateTime),
        *[column(n, String if d == "category" else Float) for n, d in features.dtypes.items()],
    )
    with feature_session(engine) as conn:
        people = population.subquery("population")
        rows = select(
            (func.row_number().over(order_by=people.c.customer_id) - 1).label("row_id"),
            people.c.customer_id,
            literal(as_of, DateTime).label("as_of"),
            *[
                literal(as_of - timedelta(days=d), DateTime).label(f"start_{d}d")
                for d in WINDOW_DAYS
            ],
        )
        conn.execute(ENTITY.insert().from_select([c.name for c in ENTITY.c], rows))
        temp = f"{'pg_temp' if conn.dialect.name == 'postgresql' else 'temp'}.{_TEMP}"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
        sql = compiled_sql((digest, "combined"), _combined(features), conn.dialect)
        conn.exec_driver_sql(f"CREATE TEMP TABLE {_TEMP} AS {sql}")
        pairs: list[Any] = []
        for name, dtype in features.dtypes.items():
            encode = {"category": json_text, "int": json_integer}.get(dtype, json_number)
            pairs += [literal(name), encode(values.c[name])]
        conn.execute(
            delete(source_online_features).where(source_online_features.c.source == features.source)
        )
        written = conn.execute(select(func.count()).select_from(values)).scalar_one()
        conn.execute(
            source_online_features.insert().from_select(
                [
                    "source",
                    "customer_id",
                    "as_of",
                    "definitions_hash",
                    "features",
                    "materialized_at",
                ],
                select(
                    literal(features.source, String),
                    values.c.customer_id,
                    values.c.as_of,
                    literal(digest, String),
                    json_object_text(*pairs),
                    literal(utc_now(), DateTime),
                ),
            )
        )
        conn.exec_driver_sql(f"DROP TABLE {temp}")
    seconds = time.perf_counter() - started
    log.info(
        "%s: materialized %d customers as of %s (definitions %s)",
        features.source,
        written,
        as_of,
        digest[:12],
    )
    return SourceMaterializeResult(features.source, int(written or 0), as_of, digest, seconds)


def get_source_online_features(
    features: SourceFeatures, ids: Sequence[str], *, engine: Engine
) -> OnlineFeatures:
    """Feature frame (customer_id + features, dtypes as in training) of the known ids."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    rows = lookup_source_rows(
        features.source, wanted, engine=engine, definitions_hash=features.definitions_hash
    )
    known = [cid for cid in wanted if cid in rows]
    data: dict[str, Any] = {"customer_id": pd.Series(known, dtype=object)}
    for name, dtype in features.dtypes.items():
        got = [rows[cid]["features"].get(name) for cid in known]
        if dtype == "category":
            data[name] = pd.Series(got, dtype=object)
        else:
            data[name] = pd.Series(np.array(got, dtype=np.float64), dtype=np.float64)
    return OnlineFeatures(
        frame=pd.DataFrame(data),
        as_of={cid: rows[cid]["as_of"] for cid in known},
        definitions_hash=features.definitions_hash,
        unknown_ids=[cid for cid in wanted if cid not in rows],
    )
