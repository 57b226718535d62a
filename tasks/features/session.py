"""A feature session: one connection, one read snapshot, and the entity table filled either from
a DataFrame (training) or from the active population (materialization).

Window starts (``as_of - N days``) are precomputed into the entity table, so the compiled SQL
only compares timestamps and stays portable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, DateTime, Dialect, Engine, Select, func, literal, select
from sqlalchemy.sql.elements import ClauseElement

from core.db import is_postgres
from core.tables import ingestion_runs
from tasks.features.entity import ENTITY, WINDOW_DAYS

_COPY_ROWS = 50_000  # rows per COPY write
_POSTGRES_WORK_MEM = "128MB"  # per sort/hash node, for this session's feature queries only
# SQLite's page cache for the temporary tables; the rest of them stays in the temporary file.
_SQLITE_TEMP_CACHE_KIB = 64 * 1024
_COMPILED: dict[tuple[object, str], str] = {}


@contextmanager
def feature_session(
    engine: Engine, *, discard: bool = False, snapshot: str | None = None
) -> Iterator[Connection]:
    """A connection in one transaction (one snapshot) with an empty entity table.

    Commits on success (materialization writes through it); rolls back on error. ``discard``
    (a read-only session): the connection is closed at the end instead of returned to the pool,
    and its temporary tables go with it. Dropping them one by one took 2.4 s on SQLite for the
    running totals of 100k customers (every page is freed); closing deletes the temporary file.
    ``snapshot`` (PostgreSQL): read the snapshot another session exported (``export_snapshot``).
    """
    with engine.connect() as conn:
        if is_postgres(engine):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            if snapshot is not None:  # before any query of the transaction
                conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            # Sorts and hashes of the windowed joins stay in memory instead of spilling, and
            # floats print in their shortest exact form.
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{_POSTGRES_WORK_MEM}'")
            conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")
        else:
            # Temporary tables (entity rows, running totals) go to a temporary file, not this
            # process's memory (~1 GB at 100k customers x 12 cutoffs), behind a 64 MB page
            # cache: at 100k the training set then took 119 CPU-s (in memory: 121; file with the
            # default 2 MB cache: 130, and 20% more wall time in page reads). A 256 MB cache was
            # no faster than 64 MB (21.6 vs 21.1 s of features at 440k rows) for 120 MB more RSS.
            conn.exec_driver_sql("PRAGMA temp_store=FILE")
            conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{_SQLITE_TEMP_CACHE_KIB}")
        # A failed call may leave the table on a pooled SQLite connection (DDL autocommits there).
        ENTITY.drop(conn, checkfirst=True)
        ENTITY.create(conn)
        yield conn
        if discard:
            conn.invalidate()  # closes the DBAPI connection: no commit, temporary tables gone
            return
        ENTITY.drop(conn)
        conn.commit()


def compiled_sql(key: object, query: ClauseElement, dialect: Dialect) -> str:
    """SQL text of ``query`` for ``dialect`` with literals inlined, compiled once per key."""
    cache_key = (key, dialect.name)
    if cache_key not in _COMPILED:
        compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        _COMPILED[cache_key] = str(compiled)
    return _COMPILED[cache_key]


def timestamp_text(values: np.ndarray) -> np.ndarray:
    """datetime64 values as 'YYYY-MM-DD HH:MM:SS.ffffff', SQLAlchemy's SQLite storage format."""
    text = np.datetime_as_string(values.astype("datetime64[us]"), unit="us").astype("U26")
    text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")  # the 'T' separator
    return text


def upload_entities(conn: Connection, customer_ids: np.ndarray, as_of: np.ndarray) -> None:
    """Bulk-load entity rows (row_id = position): COPY on PostgreSQL, executemany on SQLite.

    Rows are generated one at a time, and the timestamp texts of a moment (as_of and its window
    starts) are one shared tuple of strings: a million training rows would otherwise hold ~9
    million strings at once (~900 MB).
    """
    names = ["row_id", "customer_id", "as_of", *[f"start_{days}d" for days in WINDOW_DAYS]]
    ids, moment_of, moments = _entity_parts(customer_ids, as_of)
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            # COPY text format; only customer_id can hold characters that need escaping.
            text = np.array(ids, dtype=str)
            for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                text = np.strings.replace(text, raw, escaped)
            ids = text.tolist()
            lines = ["\t".join(moment) for moment in moments]
            with cursor.copy(f"COPY {ENTITY.name} ({', '.join(names)}) FROM STDIN") as copy:
                for start in range(0, len(ids), _COPY_ROWS):
                    block = range(start, min(start + _COPY_ROWS, len(ids)))
                    copy.write("".join(f"{i}\t{ids[i]}\t{lines[moment_of[i]]}\n" for i in block))
        else:
            marks = ", ".join("?" * len(names))
            rows = ((i, ids[i], *moments[moment_of[i]]) for i in range(len(ids)))
            cursor.executemany(
                f"INSERT INTO {ENTITY.name} ({', '.join(names)}) VALUES ({marks})", rows
            )
    finally:
        cursor.close()
    _analyze_entities(conn)


def fill_entities(conn: Connection, population: Select[Any], as_of: datetime) -> int:
    """Fill the entity table, inside the database, with ``population``'s customers (a SELECT with
    a ``customer_id`` column, one row per customer) at ``as_of``; return the row count."""
    people = population.subquery("population")
    rows = select(
        (func.row_number().over(order_by=people.c.customer_id) - 1).label("row_id"),
        people.c.customer_id,
        literal(as_of, DateTime).label("as_of"),
        *[
            literal(as_of - timedelta(days=days), DateTime).label(f"start_{days}d")
            for days in WINDOW_DAYS
        ],
    )
    conn.execute(ENTITY.insert().from_select([c.name for c in ENTITY.c], rows))
    _analyze_entities(conn)
    return int(conn.execute(select(func.count()).select_from(ENTITY)).scalar_one())


def _analyze_entities(conn: Connection) -> None:
    """Temporary tables get no autovacuum statistics; the planner needs their size."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {ENTITY.name}")


def _entity_parts(
    customer_ids: np.ndarray, as_of: np.ndarray
) -> tuple[list[str], list[int], list[tuple[str, ...]]]:
    """Customer ids as str, each row's moment index, and per distinct moment the texts of as_of
    and its window starts (as_of - N days), formatted once per moment (usually a few cutoffs)."""
    moments, position = np.unique(as_of.astype("datetime64[us]"), return_inverse=True)
    texts = [timestamp_text(moments)] + [
        timestamp_text(moments - np.timedelta64(days, "D")) for days in WINDOW_DAYS
    ]
    per_moment = [tuple(str(column[k]) for column in texts) for k in range(len(moments))]
    ids = [str(c) for c in customer_ids.tolist()]  # the caller's str objects, not copies
    return ids, position.tolist(), per_moment


def export_snapshot(conn: Connection) -> str | None:
    """PostgreSQL: the id of ``conn``'s transaction snapshot, which another session of the same
    database can adopt (``feature_session(snapshot=...)``) while ``conn`` stays open. SQLite has
    no such thing: None."""
    if conn.dialect.name != "postgresql":
        return None
    return str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())


def data_fingerprint(conn: Connection) -> tuple[object, ...]:
    """What every ingestion commit changes (its ``ingestion_runs`` row commits with its data):
    two read transactions with the same fingerprint read the same source data.

    On SQLite, opens ``conn``'s read transaction if none is open, so that its later reads see
    the data the fingerprint describes.
    """
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN")
    query = select(func.count(), func.max(ingestion_runs.c.watermark)).select_from(ingestion_runs)
    count, watermark = conn.execute(query).one()
    return (int(count), str(watermark))
