"""Writing a declared source's rows: quarantine, the derived contract, the ingestion run record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from core.names import utc_now
from core.tables import source_schemas
from tasks.ingestion.base import IngestionResult, Quarantined, RunContext
from tasks.ingestion.contracts import Reason as IngestReason
from tasks.ingestion.quarantine import write_quarantine
from tasks.ingestion.runs import record_run
from tasks.owndata.spec import SourceSpec, SpecError, model_name_of

Reason = dict[str, Any]


def run_source(name: str) -> str:
    """The ``source`` value of a declared source in the shared ingestion_runs/quarantine tables
    (prefixed, so a spec named like a built-in source cannot mix with it)."""
    return f"spec:{name}"


@dataclass(frozen=True)
class OwnIngestResult:
    """What one ingest of a declared source did; read = loaded + quarantined + duplicates."""

    source: str
    run_id: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    duplicates: int
    replaced: int
    watermark: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["watermark"] = self.watermark.isoformat() if self.watermark else None
        return out


def quarantine_rows(
    conn: Connection,
    *,
    source: str,
    run_id: str,
    frame: pd.DataFrame,
    reasons: dict[int, list[Reason]],
) -> None:
    """Write the rows of ``frame`` labelled in ``reasons`` (raw payload + every reason)."""
    if not reasons:
        return
    labels = sorted(reasons)
    raw = frame.loc[labels]
    rows = Quarantined(
        payloads=[json.dumps(r, sort_keys=True) for r in raw.to_dict("records")],
        # our reasons may carry a "detail" beside column/check/value; the column is JSON
        reasons=[cast(list[IngestReason], reasons[label]) for label in labels],
        natural_keys=[None] * len(labels),
    )
    write_quarantine(conn, RunContext(run_id, run_source(source), conn.dialect.name), rows)


def save_contract(conn: Connection, *, spec: SourceSpec, contract: dict[str, Any]) -> None:
    """Replace the stored contract of the spec's source, with the spec it came from (its file
    and document: what retraining ``churn-<name>`` reads again)."""
    conn.execute(delete(source_schemas).where(source_schemas.c.source == spec.name))
    conn.execute(
        insert(source_schemas).values(
            source=spec.name,
            kind=spec.kind,
            contract=contract,
            updated_at=utc_now(),
            spec_path=None if spec.path is None else str(spec.path),
            spec=spec.model_dump(mode="json"),
        )
    )


def recorded_spec_path(source: str, *, engine: Engine) -> Path:
    """The spec file the source was last ingested from; SpecError (one line) when the source
    was never ingested, was ingested from no file, or the file has gone since."""
    model = model_name_of(source)
    with engine.connect() as conn:
        row = conn.execute(
            select(source_schemas.c.spec_path).where(source_schemas.c.source == source)
        ).one_or_none()
    if row is None:
        raise SpecError(
            f"{model}: source {source!r} has not been ingested yet; run make table SPEC=..."
        )
    if row.spec_path is None:
        raise SpecError(
            f"{model}: no spec file is recorded for source {source!r} (ingested before specs"
            " were recorded, or from no file); run make table SPEC=... once"
        )
    path = Path(row.spec_path)
    if not path.is_file():
        raise SpecError(f"{model}'s spec {path} no longer exists; run make table SPEC=...")
    return path


def load_contract(source: str, *, engine: Engine) -> tuple[str, dict[str, Any]]:
    """(kind, contract) of an ingested source; SpecError when it was never ingested."""
    with engine.connect() as conn:
        row = conn.execute(
            select(source_schemas.c.kind, source_schemas.c.contract).where(
                source_schemas.c.source == source
            )
        ).one_or_none()
    if row is None:
        raise SpecError(f"source {source!r} has not been ingested yet; run `make table SPEC=...`")
    return str(row.kind), dict(row.contract)


def finish_run(conn: Connection, result: OwnIngestResult, *, started_at: datetime) -> None:
    """Record the run in ingestion_runs, inside the data transaction."""
    record_run(
        conn,
        IngestionResult(
            run_id=result.run_id,
            source=run_source(result.source),
            window_start=None,
            window_end=result.watermark,
            rows_read=result.rows_read,
            rows_loaded=result.rows_loaded,
            rows_quarantined=result.rows_quarantined,
            watermark=result.watermark,
            status="succeeded",
            started_at=started_at,
            finished_at=utc_now(),
        ),
    )
