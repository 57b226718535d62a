"""Reading a compiled feature query into typed columns: one source's SQL, fetched in chunks.

Used by the main feature session (``tasks.features.retrieval``) and the side session
(``tasks.features.side``) alike; neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, DateTime, and_, func, literal, select

from core.settings import get_settings
from core.tables import customers


@dataclass(frozen=True)
class SourceSQL:
    """One source query compiled for a dialect, with its feature columns."""

    key: str
    sql: str
    names: list[str]
    text_names: frozenset[str]


def fetch_columns(conn: Connection, source: SourceSQL, n: int) -> dict[str, np.ndarray]:
    """Run one source query on the DBAPI cursor, in chunks; columns in row_id order."""
    chunk = get_settings().chunk_rows
    dbapi: Any = conn.connection.dbapi_connection
    # A server-side cursor on PostgreSQL keeps the client's memory to one chunk at a time.
    postgres = conn.dialect.name == "postgresql"
    cursor = dbapi.cursor(name="feature_rows") if postgres else dbapi.cursor()
    # Each chunk becomes typed columns at once: float64 columns hold 8 bytes a value instead of a
    # Python object each, so memory stays near the size of the result, not several times it.
    parts: dict[str, list[np.ndarray]] = {name: [] for name in source.names}
    got = 0
    try:
        cursor.execute(source.sql)
        while rows := cursor.fetchmany(chunk):
            block = np.array(rows, dtype=object).reshape(len(rows), -1)
            got += len(rows)
            for i, name in enumerate(source.names, start=1):
                column = block[:, i]
                parts[name].append(
                    column if name in source.text_names else column.astype(np.float64)
                )
            del block, rows
    finally:
        cursor.close()
    if got != n:
        raise ValueError(row_count_problem(conn, got, n))
    return {
        name: _shared_strings(np.concatenate(chunks))
        if chunks and name in source.text_names
        else np.concatenate(chunks)
        if chunks
        else np.empty(0, dtype=object if name in source.text_names else np.float64)
        for name, chunks in parts.items()
    }


def _shared_strings(column: np.ndarray) -> np.ndarray:
    """The same values, each distinct string one shared object (the driver makes a new ``str``
    per value: ~50 bytes each, hundreds of MB over a training set's categorical columns)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    shared = np.empty(len(column), dtype=object)  # None where the value was missing
    present = codes >= 0
    shared[present] = np.asarray(uniques, dtype=object)[codes[present]]
    return shared


def row_count_problem(conn: Connection, got: int, want: int) -> str:
    """Explain why a source query did not return exactly one row per entity row."""
    a, b = customers.alias("a"), customers.alias("b")
    never = literal(datetime(9999, 12, 31), DateTime)
    overlap = and_(
        a.c.customer_id == b.c.customer_id,
        a.c.version_id < b.c.version_id,
        a.c.valid_from < func.coalesce(b.c.valid_to, never),
        b.c.valid_from < func.coalesce(a.c.valid_to, never),
    )
    sample = conn.execute(select(a.c.customer_id).join(b, overlap).limit(5)).scalars().all()
    return (
        f"feature query returned {got} rows for {want} entity rows: the customers table has"
        f" overlapping SCD2 versions (e.g. customer_id {sample}); fix the CRM load"
    )
