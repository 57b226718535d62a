"""A declared source as an ingestion ``Source``, loaded by the one runner (``tasks.ingestion``).

``check_schema`` reads the spec's file(s) and derives their built-in contracts: a missing column,
an empty id or an unexpected label value is a one-line SpecError before anything is written.
Files are read in chunks (a snapshot table twice: ``tasks.declared.snapshot``): rows identical to
an earlier row of the load are counted and collapsed (kept in an event log unless its spec says
``duplicates: collapse``: two likes in one second are two events), the rows checked by
``check_frame`` (rows that fail go to quarantine with their reasons). A file is the source's full
history (events) or the whole snapshot of its date, so ``publish`` replaces what the last load
wrote, and the derived contract is stored, inside the run's transaction. A load whose
every row was quarantined is a SpecError naming a reason: there is nothing to train on.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, func, select

from core.tables import quarantine, source_events, source_subscriptions
from tasks.declared.contract import (
    check_ids,
)
from tasks.declared.features import EVENT_WINDOWS, FEATURE_SET
from tasks.declared.reader import find_columns, iter_text_tables, read_text_table
from tasks.declared.repeats import RowHashes, row_hashes
from tasks.declared.snapshot import SnapshotTable
from tasks.declared.spec import SourceSpec, SpecError
from tasks.declared.store import run_source, save_contract
from tasks.ingestion.base import (
    CheckedChunk,
    IngestionResult,
    RawChunk,
    Rejected,
    RunContext,
    Window,
)
from tasks.ingestion.bulk import create_indexes, drop_indexes_for_load, insert_frame
from tasks.ingestion.contracts import Contract, Field, Reason, Rule, not_after
from tasks.ingestion.quarantine import split_chunk
from tasks.ingestion.runner import ingest_source

# The most frequent event types get features; rarer ones are stored but not featurized.
MAX_EVENT_TYPES = 20
EVENT_CHUNK_ROWS = 250_000  # an event log is read, checked and written this many rows at a time


@dataclass(frozen=True)
class DeclaredIngestResult(IngestionResult):
    """The run as recorded, plus the identical duplicate rows found (collapsed, or loaded when
    the spec keeps them) and the rows of the previous load that this one replaced."""

    duplicates: int = 0
    replaced: int = 0


@dataclass
class _File:
    """One file of the source: its text rows (or, for an event log, its chunks as they are
    read), contract, and how valid rows reach the warehouse."""

    raw: pd.DataFrame | None
    contract: Contract
    to_warehouse: Callable[[pd.DataFrame], pd.DataFrame]
    publish: Callable[[Connection, pd.DataFrame, str], int]  # returns rows replaced
    watermark: datetime | None = None  # a snapshot's date; else the latest valid timestamp
    chunks: Callable[[int], Iterator[pd.DataFrame]] | None = None  # streamed instead of raw
    finish: Callable[[Connection], None] | None = None  # after the last chunk's write


class DeclaredSource:
    """The spec's file(s), checked and loaded like any built-in source."""

    @property
    def writes_release_gil(self) -> bool:
        """An event log's chunks are written by one INSERT ... FROM json_each on SQLite, which
        frees the GIL (the runner overlaps them with the next chunk's checks)."""
        return self.spec.kind == "events"

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.name = run_source(spec.name)
        self.duplicates = 0
        self.replaced = 0
        self._files: dict[str, _File] = {}
        self._repeats: dict[str, RowHashes] = {}  # per file: rows seen earlier in the load
        self._cleared: set[str] = set()  # tables whose previous rows this load deleted
        self._indexes: list[Any] = []  # dropped for the load, built again by finish()
        self._type_counts: Counter[str] = Counter()
        self._ragged: list[Rejected] = []  # lines of another number of fields than the header

    def _ragged_line(self, text: str, fields: int) -> None:
        reason = Reason(column=None, check="fields", value=f"{fields} fields, not the header's")
        self._ragged.append(Rejected(payload=text, reasons=[reason]))

    @property
    def contract(self) -> Contract:
        """The contract of the source's main file (snapshot table, or event log)."""
        return next(iter(self._read().values())).contract

    def check_schema(self, source_dir: Path, window: Window) -> None:
        """Read every file and derive its contract; SpecError names what makes it unusable."""
        self._read()

    def fetch(self, source_dir: Path, window: Window, *, chunk_rows: int) -> Iterator[RawChunk]:
        """Every file in chunks of ``chunk_rows`` (at least EVENT_CHUNK_ROWS): memory does not
        grow with the file (a table's conflicting ids were found by the first pass)."""
        for origin, file in self._read().items():
            if file.raw is not None:
                yield RawChunk(frame=file.raw, origin=origin)
                continue
            assert file.chunks is not None
            for frame in file.chunks(max(chunk_rows, EVENT_CHUNK_ROWS)):
                rejected, self._ragged = self._ragged, []
                yield RawChunk(frame=frame, origin=origin, rejected=rejected)
            if self._ragged:  # lines Arrow left out after the last chunk
                rejected, self._ragged = self._ragged, []
                yield RawChunk(frame=frame.iloc[:0], origin=origin, rejected=rejected)

    def validate(self, chunk: RawChunk) -> CheckedChunk:
        """Count rows identical to an earlier row of the load and collapse them (an event log
        whose spec keeps duplicates: keep them), then check the rows against the contract."""
        file = self._read()[chunk.origin]
        seen = self._repeats.setdefault(chunk.origin, RowHashes())
        repeated = pd.Series(seen.mark_repeats(row_hashes(chunk.frame)), index=chunk.frame.index)
        self.duplicates += int(repeated.sum())
        keep = chunk.origin == "events" and self.spec.keeps_duplicates
        rows = chunk.frame if keep else chunk.frame.loc[~repeated]
        rows_chunk = RawChunk(rows, chunk.origin, rejected=chunk.rejected)
        checked = split_chunk(file.contract, rows_chunk, file.to_warehouse)
        checked.valid.attrs["origin"] = chunk.origin  # which file publish is writing
        watermark = file.watermark or _latest(checked.valid)
        return CheckedChunk(checked.valid, checked.quarantined, watermark)

    def publish(self, valid: pd.DataFrame, conn: Connection, run: RunContext) -> None:
        """Replace the previous load's rows of this file's table with ``valid``."""
        file = self._files[valid.attrs["origin"]]
        self.replaced += file.publish(conn, valid, run.run_id)

    def finish(self, conn: Connection, run: RunContext) -> None:
        """After the last chunk: build again the indexes the load dropped; store what a file
        knows only once all its chunks are in (a snapshot's categories)."""
        create_indexes(conn, self._indexes)
        self._indexes = []
        for file in self._read().values():
            if file.finish is not None:
                file.finish(conn)

    def _read(self) -> dict[str, _File]:
        if not self._files:
            self._files = self._snapshot() if self.spec.kind == "snapshot" else self._events()
        return self._files

    def _snapshot(self) -> dict[str, _File]:
        table = SnapshotTable(
            self.spec, source=self.name, moment=snapshot_moment(self.spec),
            on_ragged=self._ragged_line,
        )  # fmt: skip
        file = _File(None, table.contract, table.to_warehouse, table.publish, table.moment)
        file.chunks, file.finish = table.chunks, table.finish
        return {"snapshot": file}

    def _events(self) -> dict[str, _File]:
        spec = self.spec
        if not spec.event_time or not spec.event_type or spec.subscriptions is None:
            raise SpecError(f"{spec.name}: kind events needs event_time, event_type, subscriptions")
        roles = {"id": spec.id, "event_time": spec.event_time, "event_type": spec.event_type}
        if spec.value:
            roles["value"] = spec.value
        pattern, where = spec.resolve(spec.file), f"{spec.name}: file {spec.file!r}"
        first = next(
            iter_text_tables(
                pattern, what=f"{spec.name}: file", chunk_rows=1000, on_ragged=lambda *_: None
            ),
            None,
        )  # a ragged line is quarantined by the load
        if first is None:
            raise SpecError(f"{where}: holds no rows")
        cols = find_columns(first, roles, where=where)
        check_ids(first[cols["id"]], column=cols["id"], where=where)  # the rest: quarantined

        def event_chunks(rows: int) -> Iterator[pd.DataFrame]:
            for chunk in iter_text_tables(
                pattern, what=f"{spec.name}: file", chunk_rows=rows, on_ragged=self._ragged_line
            ):
                yield chunk[list(cols.values())]

        sub = spec.subscriptions
        sub_roles = {"id": sub.id or spec.id, "start": sub.start, "end": sub.end}
        subs, sub_cols = _read_columns(spec, sub.file, sub_roles, "subscriptions file")
        event_fields = [
            Field(cols["id"]),
            Field(cols["event_time"], "timestamp", fmt="mixed"),
            Field(cols["event_type"], max_length=64),
        ]
        if spec.value:
            event_fields.append(Field(cols["value"], "decimal", required=False))
        sub_id, start, end = sub_cols["id"], sub_cols["start"], sub_cols["end"]

        def unique_start(df: pd.DataFrame) -> pd.Series:
            return df[start].isna() | ~df.duplicated([sub_id, start], keep=False)

        sub_contract = Contract(
            source=self.name,
            key=sub_id,
            fields=(
                Field(sub_id),
                Field(start, "timestamp", fmt="mixed"),
                Field(end, "timestamp", required=False, fmt="mixed"),
            ),
            rules=(
                Rule(end, "end_before_start", not_after(start, end)),
                Rule(sub_id, "conflicting_duplicate", unique_start),
            ),
        )
        return {
            "events": _File(
                None,
                Contract(self.name, tuple(event_fields), key=cols["id"]),
                _renamer(
                    cols,
                    id="customer_id",
                    event_time="event_time",
                    event_type="event_type",
                    value="value",
                ),
                self._replacer(source_events, with_contract=True),
                chunks=event_chunks,
            ),
            "subscriptions": _File(
                subs,
                sub_contract,
                _renamer(sub_cols, id="customer_id", start="started_at", end="ended_at"),
                self._replacer(source_subscriptions),
            ),
        }

    def _replacer(
        self, table: Table, *, with_contract: bool = False
    ) -> Callable[[Connection, pd.DataFrame, str], int]:
        """Publish for a table that holds the source's whole history: the first chunk deletes
        what the last load wrote, every chunk inserts its rows (the event log: with the table's
        indexes dropped for the load when it holds few other rows, and the event contract — its
        most frequent types, whether events carry a value — stored as it grows)."""
        spec = self.spec

        def publish(conn: Connection, valid: pd.DataFrame, run_id: str) -> int:
            gone = 0
            if table.name not in self._cleared:
                self._cleared.add(table.name)
                gone = conn.execute(delete(table).where(table.c.source == spec.name)).rowcount
                if with_contract:
                    others = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    self._indexes = drop_indexes_for_load(
                        conn, table, other_rows=int(others), constant=("source",)
                    )
            insert_frame(conn, table, valid, {"source": spec.name, "run_id": run_id})
            if with_contract:
                counts = valid["event_type"].value_counts()
                self._type_counts.update({str(k): int(v) for k, v in counts.items()})
                types = [t for t, _ in self._type_counts.most_common(MAX_EVENT_TYPES)]
                contract = {
                    "event_types": types,
                    "has_value": bool(spec.value),
                    "horizon_days": spec.horizon_days,
                    "cutoff_every": spec.cutoff_every,
                    "windows": list(spec.windows or EVENT_WINDOWS),
                    "feature_set": FEATURE_SET,
                }
                save_contract(conn, spec=spec, contract=contract)
            return int(gone or 0)

        return publish


def ingest_declared(spec: SourceSpec, *, engine: Engine) -> DeclaredIngestResult:
    """Load the spec's source through the ingestion runner (lock, one transaction, run record)."""
    source = DeclaredSource(spec)
    result = ingest_source(source, engine=engine, source_dir=spec.base_dir, window=Window())
    if result.rows_read and not result.rows_loaded:
        raise SpecError(
            f"{spec.name}: none of the {result.rows_read} rows of {spec.file!r} passed its checks"
            f" ({_a_reason(result.run_id, engine=engine)}); every row is in the quarantine"
            " table: fix the file and run make declare again"
        )
    values = {f.name: getattr(result, f.name) for f in fields(result)}
    return DeclaredIngestResult(**values, duplicates=source.duplicates, replaced=source.replaced)


def _a_reason(run_id: str, *, engine: Engine) -> str:
    """One quarantined row of the run and its first reason, e.g. ``id 0001: conflicting_duplicate
    of customerID``."""
    query = select(quarantine.c.natural_key, quarantine.c.reasons).where(
        quarantine.c.run_id == run_id
    )
    with engine.connect() as conn:
        row = conn.execute(query.limit(1)).first()
    if row is None or not row.reasons:
        return "no reason recorded"
    first = row.reasons[0]
    return f"e.g. id {row.natural_key}: {first.get('check')} of {first.get('column')}"


def check_source(spec: SourceSpec) -> None:
    """Read the spec's file(s) and derive their contracts; SpecError when they cannot be
    ingested. Nothing is written (run first by ``make declare`` and the ``table`` flow)."""
    DeclaredSource(spec).check_schema(spec.base_dir, Window())


def snapshot_moment(spec: SourceSpec) -> datetime:
    """The snapshot's date: ``snapshot_date``, else the newest file's modification date (UTC)."""
    if spec.snapshot_date is not None:
        d = spec.snapshot_date
        return datetime(d.year, d.month, d.day)
    newest = max(Path(p).stat().st_mtime for p in glob.glob(spec.resolve(spec.file)))
    stamp = datetime.fromtimestamp(newest, tz=UTC)
    return datetime(stamp.year, stamp.month, stamp.day)


def _read_columns(
    spec: SourceSpec, pattern: str, roles: dict[str, str], what: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The file's columns named in ``roles`` (ids checked), and each role's header."""
    where = f"{spec.name}: {what} {pattern!r}"
    frame = read_text_table(spec.resolve(pattern), what=f"{spec.name}: {what}")
    found = find_columns(frame, roles, where=where)
    check_ids(frame[found["id"]], column=found["id"], where=where)
    return frame[list(found.values())], found


def _renamer(headers: dict[str, str], **names: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Typed rows with the warehouse's column names (role → name; a role the file lacks is
    missing, e.g. an event log without values)."""

    def rename(typed: pd.DataFrame) -> pd.DataFrame:
        present = {headers[role]: name for role, name in names.items() if role in headers}
        frame = typed.rename(columns=present)
        return frame.assign(**{name: None for name in names.values() if name not in frame})

    return rename


def _latest(valid: pd.DataFrame) -> datetime | None:
    """How far the valid rows reach in time."""
    latest = valid.select_dtypes("datetime").max().max()
    return None if pd.isna(latest) else pd.Timestamp(latest).to_pydatetime()
