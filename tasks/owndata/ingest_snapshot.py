"""Ingest a snapshot source: contract checks, duplicates, conflicts, quarantine, replace.

Everything that makes the file unusable (missing column, empty id, unexpected label values) is a
SpecError raised before anything is written. Row-level problems go to quarantine; the snapshot's
rows are then replaced in one transaction, so reloading a corrected file for the same date
replaces that snapshot.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert

from core.names import utc_now
from core.tables import source_snapshots
from tasks.owndata.contract import (
    SnapshotContract,
    check_rows,
    derive_contract,
    with_categories,
)
from tasks.owndata.reader import read_text_table
from tasks.owndata.spec import SourceSpec
from tasks.owndata.store import OwnIngestResult, Reason, finish_run, quarantine_rows, save_contract

log = logging.getLogger(__name__)
_INSERT_CHUNK = 5_000


def snapshot_moment(spec: SourceSpec) -> datetime:
    """The snapshot's date: ``snapshot_date``, else the newest file's modification date (UTC)."""
    if spec.snapshot_date is not None:
        d = spec.snapshot_date
        return datetime(d.year, d.month, d.day)
    import glob

    paths = glob.glob(spec.resolve(spec.file))
    newest = max(Path(p).stat().st_mtime for p in paths)
    stamp = datetime.fromtimestamp(newest, tz=UTC)
    return datetime(stamp.year, stamp.month, stamp.day)


def prepare_snapshot(
    spec: SourceSpec,
) -> tuple[pd.DataFrame, SnapshotContract, pd.DataFrame, dict[int, list[Reason]], int]:
    """Read and check the file: (raw rows, contract, typed valid rows, reasons, duplicates)."""
    where = f"{spec.name}: file {spec.file!r}"
    raw = read_text_table(spec.resolve(spec.file), what=f"{spec.name}: file")
    contract = derive_contract(spec, raw, where=where)
    unique = raw.loc[~raw.duplicated(keep="first")]
    duplicates = len(raw) - len(unique)
    typed, reasons = check_rows(unique, contract)
    ids = unique[contract.id_column]
    clashing = unique.loc[ids.duplicated(keep=False)]
    for cid, rows in clashing.groupby(contract.id_column, sort=False):
        differ = [c for c in unique.columns if rows[c].nunique() > 1]
        for label in rows.index:
            reasons.setdefault(int(str(label)), []).append(
                {
                    "column": contract.id_column,
                    "check": "conflicting_duplicate",
                    "value": str(cid),
                    "detail": f"{len(rows)} rows share this id and differ in {differ}",
                }
            )
    valid = typed.drop(index=list(reasons))
    return unique, with_categories(contract, valid), valid, reasons, duplicates


def ingest_snapshot(spec: SourceSpec, *, engine: Engine) -> OwnIngestResult:
    """Load the spec's snapshot into ``source_snapshots`` (replacing that snapshot)."""
    started = utc_now()
    raw, contract, valid, reasons, duplicates = prepare_snapshot(spec)
    moment = snapshot_moment(spec)
    run_id = str(uuid.uuid4())
    keys = [c.key for c in contract.columns]
    records = [
        {
            "source": spec.name,
            "snapshot_at": moment,
            "customer_id": str(row["customer_id"]),
            "label": int(row["label"]),
            "attributes": {k: _plain(row[k]) for k in keys},
            "run_id": run_id,
        }
        for row in valid.to_dict("records")
    ]
    result = OwnIngestResult(
        source=spec.name,
        run_id=run_id,
        rows_read=len(raw) + duplicates,
        rows_loaded=len(records),
        rows_quarantined=len(reasons),
        duplicates=duplicates,
        replaced=0,
        watermark=moment,
    )
    with engine.begin() as conn:
        gone = conn.execute(
            delete(source_snapshots).where(
                source_snapshots.c.source == spec.name, source_snapshots.c.snapshot_at == moment
            )
        ).rowcount
        for start in range(0, len(records), _INSERT_CHUNK):
            conn.execute(insert(source_snapshots), records[start : start + _INSERT_CHUNK])
        quarantine_rows(conn, source=spec.name, run_id=run_id, frame=raw, reasons=reasons)
        save_contract(conn, spec=spec, contract=contract.to_dict())
        result = OwnIngestResult(**{**result.__dict__, "replaced": int(gone or 0)})
        finish_run(conn, result, started_at=started)
    if result.replaced:
        log.info(
            "%s: snapshot %s reloaded: %d earlier rows replaced by %d",
            spec.name,
            moment.date(),
            result.replaced,
            result.rows_loaded,
        )
    log.info(
        "%s: read %d rows, loaded %d, quarantined %d, %d identical duplicate(s) collapsed",
        spec.name,
        result.rows_read,
        result.rows_loaded,
        result.rows_quarantined,
        duplicates,
    )
    return result


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
