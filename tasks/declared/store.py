"""A declared source's name in the shared ingestion tables, and its stored contract and spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from core.names import utc_now
from core.tables import source_schemas
from tasks.declared.spec import SourceSpec, SpecError, model_name_of


def run_source(name: str) -> str:
    """The ``source`` value of a declared source in the shared ingestion_runs/quarantine tables
    (prefixed, so a spec named like a built-in source cannot mix with it)."""
    return f"declared:{name}"


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
            f"{model}: source {source!r} has not been ingested yet; run make declare SPEC=..."
        )
    if row.spec_path is None:
        raise SpecError(
            f"{model}: no spec file is recorded for source {source!r} (ingested before specs"
            " were recorded, or from no file); run make declare SPEC=... once"
        )
    path = Path(row.spec_path)
    if not path.is_file():
        raise SpecError(f"{model}'s spec {path} no longer exists; run make declare SPEC=...")
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
        raise SpecError(f"source {source!r} has not been ingested yet; run `make declare SPEC=...`")
    return str(row.kind), dict(row.contract)
