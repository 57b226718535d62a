"""Prefect tasks of the monitor flow: thin wrappers over the plain functions of this package."""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NONE

from core.db import make_engine
from core.locks import Held, database_lock
from core.names import artifact_key, utc_now
from core.settings import get_settings
from monitoring.trigger import RetrainDecision, TriggerPolicy, decide_retrain
from tasks.modeldata import ModelData, model_data
from tasks.monitoring import publish
from tasks.monitoring.analysis import Analysis, Observed, analyse, observe
from tasks.monitoring.backfill import (
    backfill_predictions,
    load_champion_model,
    score_online_store,
)
from tasks.monitoring.reference import (
    ChampionReference,
    last_retrain_time,
    load_champion_reference,
    log_promoted_reference,
)
from tasks.monitoring.store import (
    RETRAIN_REQUESTED,
    Window,
    drift_history,
    last_request,
    monitor_window,
    write_figures,
)
from tasks.retries import retry_if

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Identity, clock and window of one monitoring run."""

    run_id: str
    at: datetime  # wall clock (naive UTC)
    now: datetime  # data time: the warehouse watermark, which labels are judged against
    window: Window  # the served predictions' window [start, end) (tasks.monitoring.store)

    @property
    def shown_at(self) -> datetime:
        """Where the run's point goes on a dashboard: now, or its window's end if earlier."""
        return min(self.at, self.window[1])

    @property
    def stem(self) -> str:
        """File and snapshot names of the window's reports: a rerun overwrites them."""
        return f"{self.window[0]:%Y%m%d-%H%M%S}-{self.window[1]:%Y%m%d-%H%M%S}"


@task(cache_policy=NONE)
def start_run(data: ModelData, *, window_hours: float, window_end: datetime | None) -> RunContext:
    """A run id, the wall clock, the watermark of the model's data and the monitored window."""
    watermark = data.watermark(engine=make_engine(get_settings().database_url))
    if watermark is None:
        raise RuntimeError(
            f"{data.model_name}: its data is empty; ingest it first (python -m flows.ingest, or"
            " make declare SPEC=... for a declared source)"
        )
    at = utc_now()
    window = monitor_window(hours=window_hours, now=at, end=window_end)
    log.info("%s: monitoring the window [%s, %s)", data.model_name, *window)
    return RunContext(str(uuid.uuid4()), at, watermark, window)


def monitor_lock(model_name: str) -> AbstractContextManager[Held]:
    """The lock under which a run decides and records ``model_name``'s window."""
    url = get_settings().database_url
    return database_lock(url, name=f"monitor-{model_name}", timeout_s=600, what="monitoring")


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_if())
def load_reference(data: ModelData) -> ChampionReference:
    """The model's champion: reference frame and drift profile from MLflow; a store that did
    not answer is retried, a broken artifact (``tasks.artifacts.ArtifactError``) is not."""
    return load_champion_reference(data.model_name, dtypes=data.dtypes)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_if())
def record_promoted_reference(model_name: str, version: str) -> int:
    """The promoted ``version``'s drift reference: its population's online features as the
    promotion found them, scored by it (``tasks.monitoring.reference``); the rows logged."""
    engine = make_engine(get_settings().database_url)
    data = model_data(model_name, engine=engine, as_served=True)
    frame = score_online_store(load_champion_model(model_name, version), data, engine=engine)
    if frame.empty:
        log.warning(
            "%s v%s: no online features to take as its drift reference; monitoring measures it"
            " against its holdout (python -m flows.build_features, then retrain, to change that)",
            model_name,
            version,
        )
        return 0
    log_promoted_reference(model_name, version, frame, dtypes=data.dtypes)
    log.info("%s v%s: drift reference of %d online rows", model_name, version, len(frame))
    return len(frame)


@task(cache_policy=NONE)
def backfill(reference: ChampionReference, data: ModelData, *, cutoffs: int) -> int:
    """Score the latest ``cutoffs`` elapsed cutoffs with the champion into prediction_log."""
    engine = make_engine(get_settings().database_url)
    horizon = data.horizon_days
    usable = data.cutoffs(engine=engine, horizon_days=horizon)[-cutoffs:]
    if not usable:
        log.info(
            "%s: no elapsed cutoff to backfill%s",
            data.model_name,
            f" ({data.labels_unavailable})" if data.labels_unavailable else "",
        )
        return 0
    model = load_champion_model(reference.model_name)
    return backfill_predictions(
        usable,
        model=model,
        model_version=reference.version,
        data=data,
        horizon_days=horizon,
        engine=engine,
    )


@task(cache_policy=NONE)
def observe_window(reference: ChampionReference, data: ModelData, ctx: RunContext) -> Observed:
    """The model's predictions served in the run's window, else its online store."""
    return observe(
        engine=make_engine(get_settings().database_url),
        reference=reference,
        data=data,
        since=ctx.window[0],
        until=ctx.window[1],
    )


@task(cache_policy=NONE)
def analyse_window(
    observed: Observed,
    reference: ChampionReference,
    data: ModelData,
    ctx: RunContext,
    *,
    drift_share: float,
    performance_days: int,
) -> Analysis:
    """Fast drift decision, quality, labelled performance and business figures."""
    return analyse(
        observed,
        reference,
        data=data,
        engine=make_engine(get_settings().database_url),
        horizon_days=data.horizon_days,
        now=ctx.now,
        drift_share=drift_share,
        performance_days=performance_days,
    )


@task(cache_policy=NONE)
def decide(
    analysis: Analysis, reference: ChampionReference, ctx: RunContext, policy: TriggerPolicy
) -> RetrainDecision:
    """Retrain decision from this window plus the stored verdicts of earlier windows."""
    from monitoring.trigger import RunVerdict

    engine = make_engine(get_settings().database_url)
    name = reference.model_name
    history = (
        drift_history(engine=engine, model_name=name, limit=policy.k_runs - 1, besides=ctx.window)
        if policy.k_runs > 1
        else []
    )
    history.append(RunVerdict(ctx.at, analysis.drift_detected, tuple(analysis.features.drifted)))
    retrained = [
        t for t in (last_retrain_time(name), last_request(engine=engine, model_name=name)) if t
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
    data: ModelData,
    analysis: Analysis,
    decision: RetrainDecision,
    ctx: RunContext,
    *,
    sample_rows: int,
    reports: bool = True,
    quality_report: bool = True,
) -> dict[str, Any]:
    """Reports (HTML + workspace; skipped when ``reports`` is False, the data summary when
    ``quality_report`` is), index, monitoring_metrics rows, .prom file, Prefect artifacts."""
    from monitoring.prometheus import Figure

    settings = get_settings()
    figures = [
        *analysis.figures,
        Figure(RETRAIN_REQUESTED, float(decision.retrain), {"reason": decision.reason}),
    ]
    entry = publish.index_entry(
        analysis,
        observed,
        reference,
        at=ctx.at,
        run_id=ctx.run_id,
        retrain=decision.retrain,
        window=ctx.window,
    )
    verdict = publish.describe(entry)
    snapshots = (
        publish.build_reports(
            observed,
            reference,
            analysis,
            dtypes=data.dtypes,
            at=ctx.shown_at,
            run_id=ctx.run_id,
            sample_rows=sample_rows,
            quality=quality_report,
        )
        if reports
        else {}
    )
    files, snapshot_ids = publish.save_reports(
        snapshots,
        reports_dir=settings.reports_dir,
        workspace_dir=settings.evidently_home,
        project_name=reference.model_name,
        stem=f"{reference.model_name}-{ctx.stem}",
        verdict=verdict,
        subtitle=(
            f"{reference.model_name} v{reference.version}, window {ctx.window[0]} to"
            f" {ctx.window[1]}, {len(observed.frame)} rows from {observed.source}"
        ),
    )
    index = publish.update_index(
        settings.reports_dir,
        {**entry, "reports": files, "snapshots": snapshot_ids},
        title="churn monitoring",
        workspace_dir=settings.evidently_home,
    )
    engine = make_engine(settings.database_url)
    write_figures(
        figures,
        engine=engine,
        model_name=reference.model_name,
        run_id=ctx.run_id,
        computed_at=ctx.at,
        window=ctx.window,
    )
    labels = {"model": reference.model_name, "version": reference.version}
    prom = publish.write_prometheus(figures, reports_dir=settings.reports_dir, labels=labels)
    create_table_artifact(
        publish.figures_table(figures),
        key=artifact_key("monitoring-figures", reference.model_name),
        description=f"{verdict} — {reference.model_name} v{reference.version}",
    )
    create_link_artifact(
        index.as_uri(),
        link_text="monitoring reports index",
        key=artifact_key("monitoring-reports", reference.model_name),
    )
    return {
        "run_id": ctx.run_id,
        "model_name": reference.model_name,
        "model_version": reference.version,
        "verdict": verdict,
        "drifted_features": analysis.features.drifted,
        "retrain_requested": decision.retrain,
        "decision": decision.reason,
        "window": [str(w) for w in ctx.window],
        "observed": {"source": observed.source, "rows": len(observed.frame)},
        "performance": analysis.performance,
        "performance_unavailable": analysis.performance_unavailable,
        "reports": {k: str(settings.reports_dir / v) for k, v in files.items()},
        "index": str(index),
        "prometheus": str(prom),
        "figures": len(figures),
    }
