"""CRM: monthly incremental CSV exports ``crm/customers_YYYY-MM.csv`` → SCD2 ``customers``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from core.tables import customers
from tasks.ingestion.base import CheckedChunk, RawChunk, RunContext, Window
from tasks.ingestion.bulk import stage_frame
from tasks.ingestion.contracts import Contract, Field, Rule, not_after
from tasks.ingestion.errors import SchemaMismatchError
from tasks.ingestion.files import (
    iter_line_chunks,
    period_files,
    read_csv_header,
    require_rows,
)
from tasks.ingestion.parsing import parse_csv_lines
from tasks.ingestion.quarantine import split_chunk
from tasks.ingestion.scd2 import merge_customer_versions

CONTRACT = Contract(
    source="crm",
    key="customer_id",
    fields=(
        Field("customer_id", pattern=r"C\d{7}"),
        Field("signup_date", "date"),
        Field("plan", allowed=("basic", "standard", "premium")),
        Field("contract", allowed=("month-to-month", "one-year", "two-year")),
        Field(
            "payment_method",
            allowed=("credit_card", "bank_transfer", "electronic_check", "mailed_check"),
        ),
        Field("region", allowed=("north", "south", "east", "west")),
        Field("monthly_charges", "decimal", gt=0, lt=1000, decimals=2),
        Field("status", allowed=("active", "cancelled")),
        Field("cancel_date", "date", required=False),
        Field("updated_at", "timestamp", fmt="%Y-%m-%dT%H:%M:%S"),
    ),
    rules=(
        Rule(
            "cancel_date",
            "required_when_cancelled",
            lambda df: (df["status"] != "cancelled") | df["cancel_date"].notna(),
        ),
        Rule(
            "cancel_date",
            "empty_when_active",
            lambda df: (df["status"] != "active") | df["cancel_date"].isna(),
        ),
        Rule("signup_date", "not_after_updated_at", not_after("signup_date", "updated_at")),
    ),
)


# The versioned attributes: every contract column but the key and the change time.
ATTRIBUTES = tuple(c for c in CONTRACT.columns if c not in ("customer_id", "updated_at"))


class CrmSource:
    """CRM exports: monthly files of customer attributes, loaded as SCD2 versions.

    A team's own flat churn table is not read as CRM data: it is a declared source
    (``make declare SPEC=...``, docs/declared-sources.md), which keeps all of its columns.
    """

    name = "crm"
    contract = CONTRACT

    def _files(self, source_dir: Path, window: Window) -> list[tuple[datetime, Path]]:
        return period_files(source_dir / "crm", "customers_*.csv", window, source=self.name)

    def check_schema(self, source_dir: Path, window: Window) -> None:
        """Every file of the window must carry every contract column in its header, and at
        least one data row."""
        expected = self.contract.columns
        for _, path in self._files(source_dir, window):
            header = read_csv_header(path, source=self.name)
            missing = [c for c in expected if c not in header]
            if missing:
                unexpected = [c for c in header if c not in expected]
                raise SchemaMismatchError(self.name, f"file {path}", missing, unexpected)
            require_rows(path, source=self.name, skip_header=True)

    def fetch(self, source_dir: Path, window: Window, *, chunk_rows: int) -> Iterator[RawChunk]:
        """Each file's rows, ``chunk_rows`` lines at a time, with the file's month as watermark."""
        for period, path in self._files(source_dir, window):
            header = read_csv_header(path, source=self.name)
            for chunk in iter_line_chunks(path, chunk_rows, source=self.name, skip_header=True):
                frame, payloads, rejected = parse_csv_lines(chunk.lines, header)
                refused = [*chunk.undecodable, *rejected]
                yield RawChunk(frame, str(path), payloads, refused, watermark=period)

    def validate(self, chunk: RawChunk) -> CheckedChunk:
        """Apply the CRM contract; valid rows become versions."""
        return split_chunk(self.contract, chunk, to_versions)

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        """Stage the versions and merge them as SCD2 history, set-based in the database."""
        if valid.empty:
            return
        versions = (
            valid.assign(run_id=run.run_id)
            .sort_values(["customer_id", "valid_from"], kind="stable")
            .drop_duplicates(["customer_id", "valid_from"], keep="last")
        )
        merge_customer_versions(conn, stage_frame(conn, run, customers, versions))


def to_versions(typed: pd.DataFrame) -> pd.DataFrame:
    """Checked CRM rows → ``customers`` versions: valid_from = updated_at, plus attrs_hash."""
    versions = typed[["customer_id", *ATTRIBUTES]].copy()
    versions["valid_from"] = typed["updated_at"]
    versions["attrs_hash"] = attrs_hash(typed)
    return versions


def attrs_hash(typed: pd.DataFrame) -> pd.Series:
    """SHA-256 of a customer's attributes in canonical text, to tell a change from a re-export."""
    parts = []
    for name in ATTRIBUTES:
        column = typed[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            text = column.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(column):
            text = column.round(2).map("{:.2f}".format)
        else:
            text = column
        parts.append(pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string()))
    joined = pc.binary_join_element_wise(
        *parts, "\x1f", null_handling="replace", null_replacement=""
    )
    digests = [hashlib.sha256(s.encode()).hexdigest() for s in joined.to_pylist()]
    return pd.Series(digests, index=typed.index, dtype=object)


SOURCE = CrmSource()
