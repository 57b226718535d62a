"""Prefect tasks of the monitor flow: thin wrappers over the plain functions of this package."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NONE

from core.db import make_engine
from core.names import utc_now
from core.settings import get_settings
from monitoring.trigger import RetrainDecision, TriggerPolicy, decide_retrain
from tasks.features.population import data_watermark
from tasks.labels import available_cutoffs
from tasks.monitoring import publish
from tasks.monitoring.analysis import Analysis, Observed, analyse, observe
from tasks.monitoring.backfill import backfill_predictions, load_champion_model
from tasks.monitoring.reference import ChampionReference, last_retrain_time, load_champion_reference
from tasks.monitoring.store import RETRAIN_REQUESTED, drift_history, last_request, write_figures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Identity and clock of one monitoring run."""

    run_id: str
    at: datetime  # wall clock (naive UTC)
    now: datetime  # data time: the warehouse watermark, which labels are judged against


@task(cache_policy=NONE)
def start_run() -> RunContext:
    """A run id, the wall clock and the data watermark."""
    watermark = data_watermark(engine=make_engine(get_settings().database_url))
    if watermark is None:
        raise RuntimeError("the warehouse is empty; run python -m flows.ingest first")
    return RunContext(str(uuid.uuid4()), utc_now(), watermark)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10])
def load_reference() -> ChampionReference:
    """The champion's reference frame and drift profile from MLflow."""
    return load_champion_reference()


@task(cache_policy=NONE)
def backfill(reference: ChampionReference, *, cutoffs: int, horizon_days: int) -> int:
    """Score the latest ``cutoffs`` elapsed cutoffs with the champion into prediction_log."""
    engine = make_engine(get_settings().database_url)
    usable = available_cutoffs(engine=engine, horizon_days=horizon_days)[-cutoffs:]
    if not usable:
        log.info("no elapsed cutoff to backfill")
        return 0
    model = load_champion_model(reference.model_name)
    return backfill_predictions(
        usable,
        model=model,
        model_version=reference.version,
        horizon_days=horizon_days,
        engine=engine,
    )


@task(cache_policy=NONE)
def observe_window(reference: ChampionReference, *, window_hours: float) -> Observed:
    """Predictions served in the last ``window_hours``, else the online store."""
    until = utc_now()
    return observe(
        engine=make_engine(get_settings().database_url),
        reference=reference,
        since=until - timedelta(hours=window_hours),
        until=until,
    )


@task(cache_policy=NONE)
def analyse_window(
    observed: Observed,
    reference: ChampionReference,
    ctx: RunContext,
    *,
    horizon_days: int,
    drift_share: float,
    performance_days: int,
) -> Analysis:
    """Fast drift decision, quality, labelled performance and business figures."""
    return analyse(
        observed,
        reference,
        engine=make_engine(get_settings().database_url),
        horizon_days=horizon_days,
        now=ctx.now,
        drift_share=drift_share,
        performance_days=performance_days,
    )


@task(cache_policy=NONE)
def decide(
    analysis: Analysis, reference: ChampionReference, ctx: RunContext, policy: TriggerPolicy
) -> RetrainDecision:
    """Retrain decision from this run plus the stored history of earlier runs."""
    from monitoring.trigger import RunVerdict

    engine = make_engine(get_settings().database_url)
    history = drift_history(engine=engine, limit=policy.k_runs - 1) if policy.k_runs > 1 else []
    history.append(RunVerdict(ctx.at, analysis.drift_detected, tuple(analysis.features.drifted)))
    retrained = [
        t for t in (last_retrain_time(reference.model_name), last_request(engine=engine)) if t
    ]
    return decide_retrain(
        history,
        roc_auc=analysis.performance.get("performance.roc_auc"),
        labelled=int(analysis.performance.get("performance.labelled", 0)),
        last_retrain=max(retrained) if retrained else None,
        now=ctx.at,
        policy=policy,
    )


@task(cache_policy=NONE)
def request_retrain(decision: RetrainDecision, reference: ChampionReference) -> str | None:
    """Emit the retrain event when the decision says so."""
    if not decision.retrain:
        log.info("no retrain: %s", decision.reason)
        return None
    return publish.emit_retrain_event(
        model_name=reference.model_name,
        reason=decision.reason,
        drifted_features=decision.drifted_features,
        details=decision.details,
    )


@task(cache_policy=NONE)
def record(
    observed: Observed,
    reference: ChampionReference,
    analysis: Analysis,
    decision: RetrainDecision,
    ctx: RunContext,
    *,
    sample_rows: int,
    reports: bool = True,
) -> dict[str, Any]:
    """Reports (HTML + workspace; skipped when ``reports`` is False), index, monitoring_metrics
    rows, .prom file, Prefect artifacts."""
    from monitoring.prometheus import Figure

    settings = get_settings()
    figures = [
        *analysis.figures,
        Figure(RETRAIN_REQUESTED, float(decision.retrain), {"reason": decision.reason}),
    ]
    entry = publish.index_entry(
        analysis, observed, reference, at=ctx.at, run_id=ctx.run_id, retrain=decision.retrain
    )
    verdict = publish.describe(entry)
    snapshots = (
        publish.build_reports(
            observed, reference, analysis, at=ctx.at, run_id=ctx.run_id, sample_rows=sample_rows
        )
        if reports
        else {}
    )
    stem = f"{ctx.at:%Y%m%d-%H%M%S}-{ctx.run_id[:8]}"
    files = publish.save_reports(
        snapshots,
        reports_dir=settings.reports_dir,
        workspace_dir=settings.evidently_home,
        project_name=reference.model_name,
        stem=stem,
        verdict=verdict,
        subtitle=(
            f"{reference.model_name} v{reference.version}, "
            f"{len(observed.frame)} rows from {observed.source}"
        ),
    )
    index = publish.update_index(
        settings.reports_dir,
        {**entry, "reports": files},
        title=f"{reference.model_name} monitoring",
    )
    engine = make_engine(settings.database_url)
    write_figures(
        figures, engine=engine, run_id=ctx.run_id, computed_at=ctx.at, window=observed.window
    )
    labels = {"model": reference.model_name, "version": reference.version}
    prom = publish.write_prometheus(figures, reports_dir=settings.reports_dir, labels=labels)
    create_table_artifact(
        publish.figures_table(figures),
        key="monitoring-figures",
        description=f"{verdict} — {reference.model_name} v{reference.version}",
    )
    create_link_artifact(
        index.as_uri(), link_text="monitoring reports index", key="monitoring-reports"
    )
    return {
        "run_id": ctx.run_id,
        "model_version": reference.version,
        "verdict": verdict,
        "drifted_features": analysis.features.drifted,
        "retrain_requested": decision.retrain,
        "decision": decision.reason,
        "reports": {k: str(settings.reports_dir / v) for k, v in files.items()},
        "index": str(index),
        "prometheus": str(prom),
        "figures": len(figures),
    }
