"""One monitoring run's analysis: what is observed, drift against the champion, quality,
performance on labelled predictions, business figures — as plain typed functions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from models.risk import HIGH_RISK, MEDIUM_RISK
from models.signature import SCORE_COLUMN
from monitoring.business import business_metrics
from monitoring.drift import DriftResult, detect_drift
from monitoring.prometheus import Figure
from tasks.features.definitions import definitions_hash
from tasks.monitoring.backfill import BACKFILL_PREFIX, load_champion_model, score_frame
from tasks.monitoring.data import (
    CATEGORICAL,
    NUMERIC,
    load_online_frame,
    load_predictions,
    quarantine_rates,
)
from tasks.monitoring.performance import label_predictions, performance_metrics
from tasks.monitoring.reference import ChampionReference
from tasks.monitoring.store import DRIFT_VERDICT

log = logging.getLogger(__name__)
FEATURES = [*NUMERIC, *CATEGORICAL]


@dataclass(frozen=True)
class Observed:
    """The current window: scored feature rows, where they came from, and the time span."""

    frame: pd.DataFrame
    source: str  # "prediction_log" or "online_features"
    window: tuple[datetime | None, datetime | None]


def observe(
    *, engine: Engine, reference: ChampionReference, since: datetime, until: datetime
) -> Observed:
    """Served predictions in [since, until), or — when nothing was served — the latest
    materialized features, scored by the champion in-process."""
    served = load_predictions(
        engine=engine, since=since, until=until, definitions_hash=definitions_hash()
    )
    served = served[~served["request_id"].str.startswith(BACKFILL_PREFIX)]
    if not served.empty:
        return Observed(served.reset_index(drop=True), "prediction_log", (since, until))
    online = load_online_frame(engine=engine)
    if online.empty:
        raise RuntimeError(
            "nothing to monitor: no prediction in the window and an empty online feature store;"
            " run python -m flows.build_features (or serve predictions) first"
        )
    log.info("no prediction served in [%s, %s): monitoring the online store", since, until)
    model = load_champion_model(reference.model_name)
    scored = online.assign(**{SCORE_COLUMN: score_frame(model, online).to_numpy()})
    as_of = online["as_of"].max().to_pydatetime()
    return Observed(scored, "online_features", (as_of, as_of))


@dataclass(frozen=True)
class Analysis:
    """Everything one run found; ``figures`` is what gets stored, exported and shown."""

    features: DriftResult
    prediction: DriftResult
    drift_detected: bool
    quality: dict[str, dict[str, float]]
    performance: dict[str, float]
    labelled: pd.DataFrame
    figures: list[Figure] = field(default_factory=list)


def analyse(
    observed: Observed,
    reference: ChampionReference,
    *,
    engine: Engine,
    horizon_days: int,
    now: datetime,
    drift_share: float,
    performance_days: int,
) -> Analysis:
    """Drift (features and score), quality, labelled performance and business figures."""
    current = observed.frame
    features = detect_drift(current, reference.profile, columns=_profiled(reference.profile))
    prediction = detect_drift(current, reference.profile, columns=[SCORE_COLUMN])
    score_drift = bool(prediction.drifted)
    drift = features.share >= drift_share or score_drift
    history = load_predictions(
        engine=engine,
        since=now - timedelta(days=performance_days + horizon_days),
        definitions_hash=definitions_hash(),
    )
    labelled = label_predictions(history, engine=engine, horizon_days=horizon_days, now=now)
    performance = performance_metrics(labelled)
    quality = quarantine_rates(engine=engine)
    figures = [
        Figure("monitor.rows", float(len(current)), {"source": observed.source}),
        Figure("drift.share", features.share),
        Figure("drift.features_drifted", float(len(features.drifted))),
        Figure(DRIFT_VERDICT, float(drift), {"features": ",".join(features.drifted)}),
        Figure("drift.prediction_detected", float(score_drift)),
        *[
            Figure("drift.prediction_score", c.score, {"method": c.method})
            for c in prediction.columns
        ],
        *[
            Figure("drift.feature_score", c.score, {"feature": c.column, "method": c.method})
            for c in features.columns
        ],
        *[
            Figure(f"quality.{k}", v, {"source": s})
            for s, row in quality.items()
            for k, v in row.items()
        ],
        *_column_quality(current, reference.profile),
        *[Figure(k, v) for k, v in performance.items()],
        Figure("performance.labelled_predictions", float(len(labelled))),
    ]
    labels = labelled["label"] if not labelled.empty else None
    business = business_metrics(
        current, high_risk=HIGH_RISK, score_column=SCORE_COLUMN, labels=labels
    )
    business["business.customers_medium_risk"] = float(
        ((current[SCORE_COLUMN] >= MEDIUM_RISK) & (current[SCORE_COLUMN] < HIGH_RISK)).sum()
    )
    figures += [Figure(k, v) for k, v in business.items()]
    return Analysis(features, prediction, drift, quality, performance, labelled, figures)


def _profiled(profile: dict[str, Any]) -> list[str]:
    return [n for n in FEATURES if n in profile["columns"]]


def _column_quality(frame: pd.DataFrame, profile: dict[str, Any]) -> list[Figure]:
    """Per feature: share of nulls, and share of values outside the reference's range."""
    out: list[Figure] = []
    for name in FEATURES:
        if name not in frame.columns:
            continue
        column = frame[name]
        out.append(Figure("quality.null_share", float(column.isna().mean()), {"feature": name}))
        spec = profile["columns"].get(name)
        if name in NUMERIC and spec and spec.get("min") is not None:
            values = column.dropna()
            outside = (
                ((values < spec["min"]) | (values > spec["max"])).mean() if len(values) else 0.0
            )
            out.append(Figure("quality.out_of_range_share", float(outside), {"feature": name}))
    return out
