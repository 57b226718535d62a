"""Thin Prefect tasks around a declared source: check, ingest, features, train, online store,
report.

Database errors are retried with backoff; a SpecError (bad spec or data) fails at once, since
retrying cannot fix it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from sqlalchemy import Engine

from core.db import make_engine
from core.names import (
    DEFAULT_MIN_BASELINE_GAIN,
    DEFAULT_MIN_GAIN,
    SOURCE_CONTRACT_ARTIFACT,
    SOURCE_DTYPES_ARTIFACT,
    TAG_SOURCE,
    TAG_SOURCE_KIND,
)
from core.settings import get_settings
from tasks.declared.features import DeclaredDefinition
from tasks.declared.pipeline import build_training_frame, ingest_source
from tasks.declared.refresh import OnlineRefresh, refresh_online_store
from tasks.declared.source import DeclaredIngestResult, check_source
from tasks.declared.spec import SourceSpec, SpecError, load_spec, source_of
from tasks.declared.store import recorded_spec_path
from tasks.registry.candidate import train_candidate
from tasks.retries import RETRY_DELAYS, retry_if
from tasks.training.crossval import TooFewRowsError

retry_on_database_error = retry_if()


@contextmanager
def _engine() -> Iterator[Engine]:
    engine = make_engine(get_settings().database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
)
def recorded_spec_task(model_name: str) -> str:
    """The spec file ``churn-<name>``'s source was ingested from (one-line SpecError when it
    was never ingested or the file has gone)."""
    source = source_of(model_name)
    if source is None:
        raise SpecError(f"{model_name!r} is not the model of a declared source (churn-<name>)")
    with _engine() as engine:
        return str(recorded_spec_path(source, engine=engine))


@task(cache_policy=NONE)
def check_spec_task(path: str) -> SourceSpec:
    """Read the spec and check its file(s) completely; nothing is written."""
    spec = load_spec(path)
    check_source(spec)
    return spec


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
    task_run_name="ingest-{spec.name}",
)
def ingest_spec_task(spec: SourceSpec) -> DeclaredIngestResult:
    """Load the source through its contract (quarantine, duplicates, snapshot replace)."""
    with _engine() as engine:
        return ingest_source(spec, engine=engine)


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
)
def refresh_online_task(
    spec: SourceSpec, definition: DeclaredDefinition, *, candidate: str
) -> OnlineRefresh:
    """After the gate: the online store at the source's latest data, with the definitions its
    champion reads (a rejected candidate's other definitions leave the champion's rows)."""
    with _engine() as engine:
        return refresh_online_store(spec, definition, candidate=candidate, engine=engine)


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_database_error,
    cache_policy=NONE,
)
def training_frame_task(spec: SourceSpec) -> tuple[pd.DataFrame, DeclaredDefinition]:
    """Point-in-time features + labels of the source."""
    with _engine() as engine:
        return build_training_frame(spec, engine=engine)


@task(cache_policy=NONE)
def train_spec_task(
    spec: SourceSpec,
    frame: pd.DataFrame,
    definition: DeclaredDefinition,
    *,
    tolerance: float,
    min_gain: float = DEFAULT_MIN_GAIN,
    min_baseline_gain: float = DEFAULT_MIN_BASELINE_GAIN,
    min_auc: float | None = None,
) -> dict[str, Any]:
    """Fit, evaluate, log, register and gate ``churn-<name>`` on the one training path: the
    source's own horizon is its purge gap; the run and version name the source, and the run
    keeps the dtypes serving builds its feature record from (``tasks.deploy``). A table too
    small for a holdout and cross-validation is a SpecError: the data, not the run, is at fault.
    The run also keeps the source's contract, from which its features can be rebuilt."""
    try:
        return train_candidate(
            frame,
            spec=definition.feature_spec(),
            model_name=definition.name,
            horizon_days=definition.horizon_days,
            tolerance=tolerance,
            min_gain=min_gain,
            min_baseline_gain=min_baseline_gain,
            min_auc=min_auc,
            tags={TAG_SOURCE: spec.name, TAG_SOURCE_KIND: spec.kind},
            dicts={
                SOURCE_DTYPES_ARTIFACT: definition.dtypes,
                SOURCE_CONTRACT_ARTIFACT: {
                    "kind": definition.kind,
                    "contract": dict(definition.contract),
                },
            },
        )
    except TooFewRowsError as exc:
        raise SpecError(f"{spec.name}: {exc}") from exc


@task(cache_policy=NONE)
def publish_declared_summary(summary: dict[str, Any]) -> str:
    """Attach the run's outcome to the flow run as a markdown artifact."""
    cv, baseline = summary["cv_roc_auc"], summary["baseline_roc_auc"]
    lines = [
        f"# {summary['model_name']} v{summary['version']}: **{summary['decision']}**",
        "",
        summary["reason"],
        "",
        "| | |",
        "|---|---|",
        *(
            f"| {k} | {v} |"
            for k, v in {
                "holdout_roc_auc": f"{summary['holdout_roc_auc']:.4f}",
                "baseline_roc_auc": "n/a" if baseline is None else f"{baseline:.4f}",
                "cv_roc_auc": "n/a (out-of-time)" if cv is None else f"{cv:.4f}",
                "rows_read": summary["rows_read"],
                "rows_loaded": summary["rows_loaded"],
                "rows_quarantined": summary["rows_quarantined"],
                "duplicates": f"{summary['duplicates']}"
                + (" (kept)" if summary.get("duplicates_kept") else " (collapsed)"),
                "replaced": summary["replaced"],
                "online rows": summary["online_rows"],
                "online store": summary["online_store"],
            }.items()
        ),
    ]
    markdown = "\n".join(lines)
    create_markdown_artifact(markdown, key=f"table-{summary['source']}".replace("_", "-"))
    return markdown
