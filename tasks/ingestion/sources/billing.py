"""Billing: the billing system's SQLite ``billing/billing.db`` (table ``billing_events``) →
append-only ``transactions``, read in ``created_at`` windows through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.exc import DatabaseError, NoSuchTableError

from core.tables import transactions
from tasks.ingestion.base import CheckedChunk, RawChunk, RunContext, Window
from tasks.ingestion.bulk import upsert_frame
from tasks.ingestion.contracts import Contract, Field
from tasks.ingestion.errors import SchemaMismatchError, SourceFormatError, SourceNotFoundError
from tasks.ingestion.quarantine import split_chunk

TABLE = "billing_events"
CREATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"

CONTRACT = Contract(
    source="billing",
    key="txn_ref",
    fields=(
        Field("id", "integer"),
        Field("txn_ref", max_length=64),
        Field("account_id", pattern=r"C\d{7}"),
        Field("event_type", allowed=("charge", "payment", "refund", "failed_payment")),
        Field("amount_cents", "integer", ge=0),
        Field("currency", allowed=("USD",)),
        Field("created_at", "timestamp", fmt=CREATED_AT_FORMAT),
    ),
)


class BillingSource:
    """The billing database, read in ``(start, end]`` windows on its indexed ``created_at``."""

    name = "billing"
    contract = CONTRACT

    def _engine(self, source_dir: Path) -> Engine:
        path = (source_dir / "billing" / "billing.db").resolve()
        if not path.is_file():
            raise SourceNotFoundError(
                f"billing: database {path} does not exist; run `python -m simulator --out DIR` "
                "or pass the folder holding the exports (source_dir / CHURN_HOME)"
            )
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    def check_schema(self, source_dir: Path, window: Window) -> None:
        """``billing_events`` must exist with every contract column."""
        engine = self._engine(source_dir)
        where = engine.url.database
        try:
            columns = [c["name"] for c in inspect(engine).get_columns(TABLE)]
        except NoSuchTableError as exc:
            raise SourceFormatError(f"billing: {where} has no table {TABLE}") from exc
        except DatabaseError as exc:
            raise SourceFormatError(
                f"billing: {where} is not a readable SQLite database ({exc.orig})"
            ) from exc
        finally:
            engine.dispose()
        missing = [c for c in self.contract.columns if c not in columns]
        if missing:
            unexpected = [c for c in columns if c not in self.contract.columns]
            raise SchemaMismatchError(self.name, f"table {TABLE}", missing, unexpected)

    def fetch(self, source_dir: Path, window: Window, *, chunk_rows: int) -> Iterator[RawChunk]:
        """Stream the window's events in id order (the first copy of a duplicate wins)."""
        columns = self.contract.columns
        query, params = _window_query(columns, window)
        engine = self._engine(source_dir)
        try:
            with engine.connect() as conn:
                # The driver cursor streams plain tuples; SQLAlchemy rows would double the cost.
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                cursor.execute(query, params)
                while rows := cursor.fetchmany(chunk_rows):
                    frame = pd.DataFrame.from_records(rows, columns=columns)
                    yield RawChunk(frame=frame, origin=f"{TABLE} {window}")
                cursor.close()
        finally:
            engine.dispose()

    def validate(self, chunk: RawChunk) -> CheckedChunk:
        """Apply the contract; the watermark is the latest readable created_at of the chunk."""
        return split_chunk(self.contract, chunk, to_transactions, watermark_column="created_at")

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        """Insert new events; a txn_id already loaded is left as it is (append-only)."""
        upsert_frame(conn, run, transactions, valid.assign(run_id=run.run_id), key=["txn_id"])


def _window_query(columns: list[str], window: Window) -> tuple[str, dict[str, str]]:
    clauses, params = [], {}
    if window.start is not None:
        clauses.append("created_at > :start")
        params["start"] = window.start.strftime(CREATED_AT_FORMAT)
    if window.end is not None:
        clauses.append("created_at <= :end")
        params["end"] = window.end.strftime(CREATED_AT_FORMAT)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {', '.join(columns)} FROM {TABLE}{where} ORDER BY id", params


def to_transactions(typed: pd.DataFrame) -> pd.DataFrame:
    """Checked events → ``transactions`` rows (amount in currency units)."""
    return pd.DataFrame(
        {
            "txn_id": typed["txn_ref"],
            "customer_id": typed["account_id"],
            "txn_type": typed["event_type"],
            "amount": typed["amount_cents"].astype(float) / 100.0,
            "occurred_at": typed["created_at"],
        }
    )


SOURCE = BillingSource()
