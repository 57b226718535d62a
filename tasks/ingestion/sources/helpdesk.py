"""Helpdesk: monthly JSON-lines files ``helpdesk/tickets_YYYY-MM.jsonl`` → ``tickets`` (newest
state of each ticket wins) and ``ticket_states`` (every state, for point-in-time features)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from core.tables import ticket_states, tickets
from tasks.ingestion.base import CheckedChunk, RawChunk, RunContext, Window
from tasks.ingestion.bulk import upsert_frame
from tasks.ingestion.contracts import Contract, Field, Rule, not_after
from tasks.ingestion.errors import SchemaMismatchError, SourceFormatError
from tasks.ingestion.files import LineChunk, iter_line_chunks, period_files, require_rows
from tasks.ingestion.parsing import parse_json_lines
from tasks.ingestion.quarantine import split_chunk

# Lines looked at per file before anything is written, to catch a renamed or missing field.
SCHEMA_SAMPLE_LINES = 200

CONTRACT = Contract(
    source="helpdesk",
    key="ticket_id",
    fields=(
        Field("ticket_id", pattern=r"T\d{8}"),
        Field("customer_id", max_length=64),
        Field("created_at", "timestamp"),
        Field("updated_at", "timestamp"),
        Field("status", allowed=("open", "resolved")),
        Field("category", allowed=("billing", "technical", "account", "cancellation")),
        Field("priority", allowed=("low", "normal", "high", "urgent")),
        Field("resolved_at", "timestamp", required=False),
        Field("satisfaction", "integer", required=False, ge=1, le=5),
    ),
    rules=(
        Rule("updated_at", "not_before_created_at", not_after("created_at", "updated_at")),
        Rule(
            "resolved_at",
            "required_when_resolved",
            lambda df: (df["status"] != "resolved") | df["resolved_at"].notna(),
        ),
        Rule(
            "resolved_at",
            "empty_when_open",
            lambda df: (df["status"] != "open") | df["resolved_at"].isna(),
        ),
        Rule(
            "satisfaction",
            "only_when_resolved",
            lambda df: (df["status"] == "resolved") | df["satisfaction"].isna(),
        ),
    ),
)


class HelpdeskSource:
    """Helpdesk ticket state changes, one JSON object per line, one file per month."""

    name = "helpdesk"
    contract = CONTRACT

    def _files(self, source_dir: Path, window: Window) -> list[tuple[datetime, Path]]:
        return period_files(source_dir / "helpdesk", "tickets_*.jsonl", window, source=self.name)

    def check_schema(self, source_dir: Path, window: Window) -> None:
        """Every file of the window must hold data, and its first lines, together, every field."""
        for _, path in self._files(source_dir, window):
            require_rows(path, source=self.name, skip_header=False)
            chunks = iter_line_chunks(
                path, SCHEMA_SAMPLE_LINES, source=self.name, skip_header=False
            )
            sample = next(chunks, LineChunk(lines=[]))
            if sample.undecodable and not sample.lines:
                raise SourceFormatError(
                    f"helpdesk: {path} is not UTF-8 text (first bad byte: "
                    f"{sample.undecodable[0].reasons[0]['value']}); export it as UTF-8 JSON lines"
                )
            frame, _, rejected = parse_json_lines(sample.lines)
            if sample.lines and frame.empty:
                raise SourceFormatError(
                    f"helpdesk: {path} holds no JSON objects in its first {len(sample.lines)} "
                    f"lines ({rejected[0].reasons[0]['value']}); expected one JSON object per line"
                )
            self._check_fields(frame, f"file {path}")

    def _check_fields(self, frame: pd.DataFrame, where: str) -> None:
        missing = [c for c in self.contract.columns if c not in frame.columns]
        if missing and not frame.empty:
            unexpected = [c for c in frame.columns if c not in self.contract.columns]
            raise SchemaMismatchError(self.name, where, missing, unexpected)

    def fetch(self, source_dir: Path, window: Window, *, chunk_rows: int) -> Iterator[RawChunk]:
        """Each file's lines, ``chunk_rows`` at a time, with the file's month as watermark."""
        for period, path in self._files(source_dir, window):
            for chunk in iter_line_chunks(path, chunk_rows, source=self.name, skip_header=False):
                frame, payloads, rejected = parse_json_lines(chunk.lines)
                self._check_fields(frame, f"file {path}")
                frame = frame.reindex(columns=self.contract.columns)
                refused = [*chunk.undecodable, *rejected]
                yield RawChunk(frame, str(path), payloads, refused, watermark=period)

    def validate(self, chunk: RawChunk) -> CheckedChunk:
        """Apply the helpdesk contract; valid rows are ticket states."""
        return split_chunk(self.contract, chunk, to_tickets)

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        """Upsert on ticket_id (a stored state is replaced only by a strictly newer updated_at),
        and keep every state in ``ticket_states`` (a re-run adds nothing)."""
        rows = valid.assign(run_id=run.run_id)
        upsert_frame(conn, run, tickets, rows, key=["ticket_id"], newer="updated_at")
        upsert_frame(conn, run, ticket_states, rows, key=["ticket_id", "updated_at"])


def to_tickets(typed: pd.DataFrame) -> pd.DataFrame:
    """Checked ticket lines → ``tickets`` rows."""
    return typed[list(CONTRACT.columns)].copy()


SOURCE = HelpdeskSource()
