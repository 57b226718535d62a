"""Point-in-time feature retrieval: upload the entity rows, run the compiled queries, assemble.

All aggregation happens inside the database, over a temporary entity table holding every
(customer, cutoff) row: per source one query per lookback tier, or, for a source with many sums
and counts, one pass that builds running totals and one query that reads each window as the
difference of two of them (``compile_training_plan``). Python only moves whole columns, fetched in
chunks to bound memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Dialect, Engine

from tasks.features.compiler import compile_training_plan
from tasks.features.definitions import FEATURES, FeatureDef
from tasks.features.fetch import SourceSQL, fetch_columns
from tasks.features.session import (
    compiled_sql,
    data_fingerprint,
    export_snapshot,
    feature_session,
    upload_entities,
)
from tasks.features.side import SideRequest, SideSession

ENTITY_COLUMNS = ("customer_id", "as_of")
# From this many entity rows on, the queries that do not read the running totals run meanwhile
# in a side process (tasks.features.side; ~2 s to start, its own entity upload): at 440k training
# rows (100k customers) that took the features from 30.5 to 21.6 s on SQLite. Below it one
# session does all.
SIDE_SESSION_MIN_ROWS = 50_000
log = logging.getLogger(__name__)


def get_historical_features(
    entity_df: pd.DataFrame,
    *,
    engine: Engine,
    features: Sequence[FeatureDef] = FEATURES,
    running_totals: bool = True,
) -> pd.DataFrame:
    """Features of every (customer_id, as_of) row as known at as_of; same rows, same order.

    Returns ``entity_df``'s columns plus one column per feature: numeric features float64
    (NaN = no data), categorical features str or None. ``running_totals=False`` evaluates every
    window with the windowed join that materialization uses (same values up to float rounding,
    slower over many cutoffs).
    """
    as_of = _checked_as_of(entity_df, features)
    n = len(entity_df)
    # Upload sorted by customer so index lookups in the sources walk forward, not at random.
    order = np.lexsort((as_of.to_numpy(), entity_df["customer_id"].to_numpy()))
    values: dict[str, np.ndarray] = {}
    if n:
        plan = _training_sql(tuple(features), engine.dialect, running_totals)
        ids, moments = entity_df["customer_id"].to_numpy()[order], as_of.to_numpy()[order]
        with feature_session(engine, discard=True) as conn:  # its temporary tables die with it
            upload_entities(conn, ids, moments)
            side = None
            if n >= SIDE_SESSION_MIN_ROWS and plan.after_setup and plan.independent:
                side = start_side_session(conn, engine, ids, moments, plan.independent)
            try:
                _run_setup(conn, plan)
                for source in plan.after_setup if side else plan.sources:
                    values.update(fetch_columns(conn, source, n))
            except BaseException:
                if side:
                    side.cancel()
                raise
            if side:
                side_values = side.result()
                if side_values is None:
                    log.info("an ingestion committed as the side session started: reading alone")
                    for source in plan.independent:
                        values.update(fetch_columns(conn, source, n))
                else:
                    values.update(side_values)
    out = entity_df.copy()
    for fd in features:
        column = values.pop(fd.name, None)  # freed once placed: one copy of the data at a time
        restored = np.empty(n, dtype=object if fd.dtype == "category" else np.float64)
        if column is not None:
            restored[order] = column
        out[fd.name] = restored
    return out


def start_side_session(
    conn: Connection,
    engine: Engine,
    ids: np.ndarray,
    moments: np.ndarray,
    sources: Sequence[SourceSQL],
) -> SideSession:
    """Run ``sources`` in a side process on the snapshot of ``conn`` (``tasks.features.side``)."""
    request = SideRequest(
        snapshot=export_snapshot(conn),
        fingerprint=data_fingerprint(conn),  # on SQLite this also pins conn's read transaction
        ids=ids,
        moments=moments,
        sources=sources,
    )
    return SideSession(request, url=engine.url.render_as_string(hide_password=False))


def _run_setup(conn: Connection, plan: _TrainingSQL) -> None:
    for statement in plan.setup:
        conn.exec_driver_sql(statement)
    if conn.dialect.name == "postgresql":  # temporary tables get no autovacuum
        for table in plan.temp_tables:
            conn.exec_driver_sql(f"ANALYZE {table}")


def _checked_as_of(entity_df: pd.DataFrame, features: Sequence[FeatureDef]) -> pd.Series:
    """The as_of column as naive datetime64, or a ValueError saying what is wrong with it."""
    missing = [c for c in ENTITY_COLUMNS if c not in entity_df.columns]
    if missing:
        raise ValueError(f"entity_df lacks column(s) {missing}; it needs customer_id and as_of")
    clash = sorted(set(entity_df.columns) & {fd.name for fd in features})
    if clash:
        raise ValueError(f"entity_df already has feature column(s) {clash}; drop them first")
    if entity_df["customer_id"].isna().any():
        raise ValueError("entity_df.customer_id has missing values")
    as_of = _naive_utc(entity_df["as_of"])
    if as_of.isna().any():
        raise ValueError("entity_df.as_of has missing values")
    return as_of.astype("datetime64[us]")


def _naive_utc(values: pd.Series) -> pd.Series:
    """An as_of column as naive UTC datetimes: aware values (one zone, or mixed offsets given as
    datetime objects) are converted, naive ones are taken to be UTC already."""
    if values.dtype == object and any(
        getattr(v, "tzinfo", None) is not None for v in values.head(1000)
    ):
        return pd.to_datetime(values, utc=True).dt.tz_convert(None)
    as_of = pd.to_datetime(values)
    return as_of.dt.tz_convert(None) if as_of.dt.tz is not None else as_of


@dataclass(frozen=True)
class _TrainingSQL:
    """The compiled training plan: setup statements and source queries (the temporary tables
    setup builds go with the session's connection)."""

    setup: list[str]
    sources: list[SourceSQL]
    temp_tables: tuple[str, ...]
    reads_setup: frozenset[str] = frozenset()

    @property
    def after_setup(self) -> list[SourceSQL]:
        """Queries that read the tables setup builds."""
        return [s for s in self.sources if s.key in self.reads_setup]

    @property
    def independent(self) -> list[SourceSQL]:
        """Queries that read only the sources and the entity table."""
        return [s for s in self.sources if s.key not in self.reads_setup]


def _training_sql(
    features: tuple[FeatureDef, ...], dialect: Dialect, running_totals: bool = True
) -> _TrainingSQL:
    """The plan's SQL text for ``dialect``, compiled once per process (literals inlined)."""
    plan = compile_training_plan(features, running_totals=running_totals)
    key = (features, running_totals)
    sources = []
    for name, query in plan.queries.items():
        columns = list(query.selected_columns)[1:]
        text_names = frozenset(c.name for c in columns if c.type.python_type is str)
        sql = compiled_sql((key, name), query, dialect)
        sources.append(SourceSQL(name, sql, [c.name for c in columns], text_names))
    setup = [compiled_sql((key, "setup", i), s, dialect) for i, s in enumerate(plan.setup)]
    return _TrainingSQL(setup, sources, plan.temp_tables, plan.reads_setup)
