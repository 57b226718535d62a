"""Contract checks of a chunk, and the quarantine table: rejected rows, raw payload, reasons."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.names import utc_now
from core.tables import quarantine
from tasks.ingestion.base import CheckedChunk, Quarantined, RawChunk, RunContext
from tasks.ingestion.contracts import Contract, check_frame


def split_chunk(
    contract: Contract,
    chunk: RawChunk,
    to_warehouse: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    watermark_column: str | None = None,
) -> CheckedChunk:
    """Check ``chunk`` against ``contract``; valid rows go through ``to_warehouse``, the rest keep
    their raw payload, natural key (raw key column) and every reason.

    With ``watermark_column`` the chunk's watermark is the latest readable value of that column
    over all rows read (valid or not), else the chunk's own (its file's month).
    """
    checked = check_frame(contract, chunk.frame)
    failed = checked.failed.to_numpy()
    valid = to_warehouse(checked.typed.loc[~failed] if failed.any() else checked.typed)
    bad = chunk.frame.loc[failed]
    if chunk.payloads is not None:
        payloads = chunk.payloads.loc[failed].astype(str).tolist()
    else:
        payloads = [json.dumps(r, default=str) for r in _plain_records(bad)]
    key_column = contract.key
    keys: list[str | None] = (
        [None if pd.isna(k) else str(k)[:128] for k in bad[key_column].tolist()]
        if key_column and key_column in bad.columns
        else [None] * len(bad)
    )
    reasons = [checked.reasons[label] for label in bad.index]
    for rejected in chunk.rejected:
        payloads.append(rejected.payload)
        reasons.append(rejected.reasons)
        keys.append(None)
    return CheckedChunk(
        valid=valid,
        quarantined=Quarantined(payloads=payloads, reasons=reasons, natural_keys=keys),
        watermark=_latest(checked.typed[watermark_column]) if watermark_column else chunk.watermark,
    )


def _latest(stamps: pd.Series) -> datetime | None:
    latest = stamps.max()
    return None if pd.isna(latest) else pd.Timestamp(latest).to_pydatetime()


def _plain_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts of JSON-friendly values (numpy scalars unwrapped, NaN → None)."""
    objects = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in objects.to_dict("records")
    ]


def payload_hash(payload: str) -> str:
    """Stable identity of a raw payload, so re-quarantining the same row is a no-op."""
    return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()


def write_quarantine(conn: Connection, run: RunContext, rows: Quarantined) -> None:
    """Insert quarantined rows once per (source, payload hash); reruns leave the table as it is."""
    if not len(rows):
        return
    now = utc_now()
    records: dict[str, dict[str, object]] = {}
    for payload, reasons, key in zip(rows.payloads, rows.reasons, rows.natural_keys, strict=True):
        digest = payload_hash(payload)
        records.setdefault(
            digest,
            {
                "source": run.source,
                "run_id": run.run_id,
                "payload_hash": digest,
                "natural_key": key,
                "raw_payload": payload,
                "reasons": reasons,
                "quarantined_at": now,
            },
        )
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(quarantine).on_conflict_do_nothing(index_elements=["source", "payload_hash"])
    conn.execute(statement, list(records.values()))
