"""Where a monitoring run's results go: Evidently snapshots in the workspace, standalone HTML
reports with an index, the Prometheus textfile, and the retrain event."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.names import DEFAULT_MODEL_NAME
from models.signature import SCORE_COLUMN
from monitoring import reports
from monitoring.index import add_banner, render_index, verdict_text
from monitoring.prometheus import Figure, render_prometheus
from monitoring.sample import stratified_sample
from monitoring.workspace import add_snapshot, open_project, remove_snapshots
from tasks.monitoring.analysis import Analysis, Observed
from tasks.monitoring.data import split_columns
from tasks.monitoring.reference import ChampionReference

log = logging.getLogger(__name__)
PROM_FILE = "churn_monitoring.prom"  # the built-in model's; churn-<name>: prom_file(name)
INDEX_JSON = "index.json"
RETRAIN_EVENT = "churn.retrain.requested"


def build_reports(
    observed: Observed,
    reference: ChampionReference,
    analysis: Analysis,
    *,
    dtypes: Mapping[str, str],
    at: datetime,
    run_id: str,
    sample_rows: int,
    quality: bool = True,
) -> dict[str, Any]:
    """Evidently snapshots (drift, quality unless ``quality`` is False, performance when labels
    allow), on bounded samples of the model's features (``dtypes``)."""
    tested = {c.column for c in analysis.features.columns}
    numeric, categorical = ([n for n in names if n in tested] for names in split_columns(dtypes))
    meta = {"model_version": reference.version, "run_id": run_id, "source": observed.source}
    tags = [reference.model_name, f"v{reference.version}"]
    current = stratified_sample(observed.frame, rows=sample_rows, by=SCORE_COLUMN)
    ref = stratified_sample(reference.frame, rows=sample_rows, by=SCORE_COLUMN)
    columns = [*numeric, *categorical, SCORE_COLUMN]
    snapshots: dict[str, Any] = {
        "drift": reports.drift_report(
            current[columns].reset_index(drop=True),
            ref[columns].reset_index(drop=True),
            numeric=numeric,
            categorical=categorical,
            score_column=SCORE_COLUMN,
            timestamp=at,
            metadata=meta,
            tags=tags,
        ),
    }
    if quality:
        snapshots["quality"] = reports.quality_report(
            current[[*numeric, *categorical]].reset_index(drop=True),
            numeric=numeric,
            categorical=categorical,
            timestamp=at,
            metadata=meta,
            tags=tags,
        )
    if analysis.performance:
        labelled = analysis.labelled[[SCORE_COLUMN, "label"]].reset_index(drop=True)
        snapshots["performance"] = reports.performance_report(
            labelled,
            target="label",
            score_column=SCORE_COLUMN,
            timestamp=at,
            metadata=meta,
            tags=tags,
        )
    return snapshots


def save_reports(
    snapshots: Mapping[str, Any],
    *,
    reports_dir: Path,
    workspace_dir: Path,
    project_name: str,
    stem: str,
    verdict: str,
    subtitle: str,
) -> tuple[dict[str, str], list[str]]:
    """Standalone HTML per report (with the verdict on top) and a workspace snapshot each;
    return the HTML file names by report kind and the snapshots' ids."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    workspace, project = open_project(workspace_dir, project_name)
    files: dict[str, str] = {}
    ids = []
    for kind, snapshot in snapshots.items():
        name = f"{stem}-{kind}.html"
        text = add_banner(
            snapshot.get_html_str(as_iframe=False), verdict=verdict, subtitle=subtitle
        )
        _atomic_write(reports_dir / name, text)
        ids.append(add_snapshot(workspace, project, snapshot, name=f"{kind} {stem}"))
        files[kind] = name
    return files, ids


def update_index(
    reports_dir: Path, entry: Mapping[str, Any], *, title: str, workspace_dir: Path
) -> Path:
    """Add this run to ``index.json`` (replacing the earlier run of the same model and window,
    whose workspace snapshots are deleted) and re-render ``index.html``."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / INDEX_JSON
    entries: list[Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    key = (entry["model"], entry.get("window"))
    same = [e for e in entries if (e.get("model"), e.get("window")) == key and key[1]]
    kept = [e for e in entries if not any(e is s for s in same)]
    stale = {i for e in same for i in e.get("snapshots", [])} - set(entry.get("snapshots", []))
    if stale:
        remove_snapshots(workspace_dir, entry["model"], stale)
    _atomic_write(path, json.dumps([*kept, dict(entry)], indent=1, default=str))
    index = reports_dir / "index.html"
    _atomic_write(index, render_index([*kept, dict(entry)], title=title))
    return index


def prom_file(model_name: str) -> str:
    """The model's textfile: one per model, so that each run rewrites only its own gauges."""
    return PROM_FILE if model_name == DEFAULT_MODEL_NAME else f"churn_monitoring-{model_name}.prom"


def write_prometheus(
    figures: Sequence[Figure], *, reports_dir: Path, labels: Mapping[str, str]
) -> Path:
    """The textfile node-exporter's collector reads (written atomically, as it requires), one
    per model (``labels["model"]``)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / prom_file(labels["model"])
    _atomic_write(path, render_prometheus(figures, labels=labels))
    return path


def index_entry(
    analysis: Analysis,
    observed: Observed,
    reference: ChampionReference,
    *,
    at: datetime,
    run_id: str,
    retrain: bool,
    window: tuple[datetime, datetime],
) -> dict[str, Any]:
    return {
        "at": at.isoformat(timespec="seconds"),
        "window": [w.isoformat(timespec="seconds") for w in window],
        "run_id": run_id,
        "model": reference.model_name,
        "model_version": reference.version,
        "source": observed.source,
        "rows": len(observed.frame),
        "drift": analysis.drift_detected,
        "drifted": analysis.features.drifted,
        "prediction_drift": bool(analysis.prediction.drifted),
        "roc_auc": analysis.performance.get("performance.roc_auc"),
        "performance_unavailable": analysis.performance_unavailable,
        "retrain": retrain,
    }


def describe(entry: Mapping[str, Any]) -> str:
    return verdict_text(entry)


def figures_table(figures: Sequence[Figure]) -> list[dict[str, Any]]:
    """Rows for the Prefect table artifact."""
    return [
        {
            "metric": f.name,
            "value": round(f.value, 6),
            "labels": ", ".join(f"{k}={v}" for k, v in f.labels.items()),
        }
        for f in figures
    ]


def emit_retrain_event(
    *, model_name: str, reason: str, drifted_features: Sequence[str], details: Mapping[str, float]
) -> str | None:
    """Send ``churn.retrain.requested`` for resource ``churn.model.<name>``; return its id."""
    from prefect.events import emit_event

    event = emit_event(
        event=RETRAIN_EVENT,
        resource={
            "prefect.resource.id": f"churn.model.{model_name}",
            "prefect.resource.name": model_name,
        },
        payload={"reason": reason, "drifted_features": list(drifted_features), **dict(details)},
    )
    log.info("emitted %s for %s: %s", RETRAIN_EVENT, model_name, reason)
    return str(event.id) if event is not None else None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
