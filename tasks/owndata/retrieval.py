"""Point-in-time retrieval of a declared source's features, for training.

The same entity table, session and compiled-SQL cache as ``tasks.features.retrieval``: upload the
(customer_id, as_of) rows, run each compiled query in the database, put the columns back in the
caller's row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from tasks.features.session import compiled_sql, feature_session, upload_entities
from tasks.owndata.features import SourceFeatures


def get_source_historical_features(
    entity_df: pd.DataFrame, features: SourceFeatures, *, engine: Engine
) -> pd.DataFrame:
    """``entity_df`` (customer_id, as_of, ...) plus every feature as known at each row's as_of."""
    missing = {"customer_id", "as_of"} - set(entity_df.columns)
    if missing:
        raise ValueError(f"entity_df lacks column(s) {sorted(missing)}")
    n = len(entity_df)
    as_of = pd.to_datetime(entity_df["as_of"]).astype("datetime64[us]").to_numpy()
    ids = entity_df["customer_id"].astype(str).to_numpy()
    order = np.lexsort((as_of, ids))
    values: dict[str, np.ndarray] = {}
    if n:
        with feature_session(engine) as conn:
            upload_entities(conn, ids[order], as_of[order])
            for key, query in features.queries.items():
                sql = compiled_sql((features.definitions_hash, key), query, conn.dialect)
                rows = conn.exec_driver_sql(sql).fetchall()
                if len(rows) != n:
                    raise ValueError(
                        f"{features.source}: feature query {key!r} returned {len(rows)} rows for"
                        f" {n} entity rows"
                    )
                table = np.array(rows, dtype=object).reshape(n, -1)
                names = [c.name for c in query.selected_columns][1:]
                for i, name in enumerate(names, start=1):
                    values[name] = table[:, i]
    out = entity_df.copy()
    for name, dtype in features.dtypes.items():
        restored = np.empty(n, dtype=object if dtype == "category" else np.float64)
        if name in values:
            column = values[name]
            restored[order] = column if dtype == "category" else column.astype(np.float64)
        out[name] = restored
    return out
