"""One monitoring run's analysis: what is observed, drift against the champion, quality,
performance on labelled predictions, business figures — as plain typed functions, for any
registered model (``tasks.modeldata``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
from tasks.modeldata import ModelData
from tasks.monitoring.backfill import BACKFILL_PREFIX, load_champion_model, score_online_store
from tasks.monitoring.data import load_predictions, quarantine_rates, split_columns
from tasks.monitoring.performance import label_predictions, performance_metrics
from tasks.monitoring.reference import ChampionReference
from tasks.monitoring.store import DRIFT_VERDICT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """The current window: scored feature rows, where they came from, and the time span."""

    frame: pd.DataFrame
    source: str  # "prediction_log" or "online_features"
    window: tuple[datetime | None, datetime | None]


def served_hash(reference: ChampionReference, data: ModelData) -> str:
    """The definitions the champion's predictions were made on: its version's tag, else (a
    version registered without one) the data's current definitions."""
    return reference.definitions_hash or data.definitions_hash


def observe(
    *,
    engine: Engine,
    reference: ChampionReference,
    data: ModelData,
    since: datetime,
    until: datetime,
) -> Observed:
    """The model's predictions served in [since, until) on its champion's definitions, or — when
    nothing was served — its population's online features, scored by the champion in-process."""
    served = load_predictions(
        engine=engine,
        model_name=data.model_name,
        dtypes=data.dtypes,
        definitions_hash=served_hash(reference, data),
        since=since,
        until=until,
    )
    served = served[~served["request_id"].str.startswith(BACKFILL_PREFIX)]
    if not served.empty:
        return Observed(served.reset_index(drop=True), "prediction_log", (since, until))
    model = load_champion_model(reference.model_name)
    scored = score_online_store(model, data, engine=engine)
    if scored.empty:
        raise RuntimeError(
            f"nothing to monitor for {data.model_name}: no prediction in the window and no"
            " online features of its population; materialize them (python -m flows.build_features,"
            " or make declare SPEC=... for a declared source) or serve predictions first"
        )
    log.info(
        "%s: no prediction served in [%s, %s): monitoring the online store",
        data.model_name,
        since,
        until,
    )
    as_of = scored["as_of"].max().to_pydatetime()
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
    # why performance is not measured at all for this model (None: it is, once labels arrive)
    performance_unavailable: str | None = None


def analyse(
    observed: Observed,
    reference: ChampionReference,
    *,
    data: ModelData,
    engine: Engine,
    horizon_days: int,
    now: datetime,
    drift_share: float,
    performance_days: int,
) -> Analysis:
    """Drift (features and score), quality, labelled performance and business figures."""
    current = observed.frame
    numeric, categorical = split_columns(data.dtypes)
    profiled = [n for n in [*numeric, *categorical] if n in reference.profile["columns"]]
    features = detect_drift(current, reference.profile, columns=profiled)
    prediction = detect_drift(current, reference.profile, columns=[SCORE_COLUMN])
    score_drift = bool(prediction.drifted)
    drift = features.share >= drift_share or score_drift
    labelled = _labelled(
        reference,
        data=data,
        engine=engine,
        since=now - timedelta(days=performance_days + horizon_days),
        horizon_days=horizon_days,
        now=now,
    )
    performance = performance_metrics(labelled)
    quality = quarantine_rates(engine=engine, sources=data.ingestion_sources)
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
        *_column_quality(current, reference.profile, numeric=numeric, categorical=categorical),
        *[Figure(k, v) for k, v in performance.items()],
    ]
    if data.labels_unavailable is None:
        figures.append(Figure("performance.labelled_predictions", float(len(labelled))))
    labels = labelled["label"] if not labelled.empty else None
    business = business_metrics(
        current, high_risk=HIGH_RISK, score_column=SCORE_COLUMN, labels=labels
    )
    business["business.customers_medium_risk"] = float(
        ((current[SCORE_COLUMN] >= MEDIUM_RISK) & (current[SCORE_COLUMN] < HIGH_RISK)).sum()
    )
    figures += [Figure(k, v) for k, v in business.items()]
    return Analysis(
        features,
        prediction,
        drift,
        quality,
        performance,
        labelled,
        figures,
        performance_unavailable=data.labels_unavailable,
    )


def _labelled(
    reference: ChampionReference,
    *,
    data: ModelData,
    engine: Engine,
    since: datetime,
    horizon_days: int,
    now: datetime,
) -> pd.DataFrame:
    """The model's predictions since ``since`` whose horizon elapsed, with their label; empty
    (with a log line saying why) when the model's data has no labels."""
    if data.labels_unavailable is not None:
        log.info("%s: performance not available: %s", data.model_name, data.labels_unavailable)
        return pd.DataFrame(
            {"score": pd.Series(dtype="float64"), "label": pd.Series(dtype="int64")}
        )
    history = load_predictions(
        engine=engine,
        model_name=data.model_name,
        dtypes=data.dtypes,
        definitions_hash=served_hash(reference, data),
        since=since,
        features=False,  # score and label are what performance needs
    )
    return label_predictions(history, data=data, engine=engine, horizon_days=horizon_days, now=now)


def _column_quality(
    frame: pd.DataFrame, profile: Mapping[str, Any], *, numeric: list[str], categorical: list[str]
) -> list[Figure]:
    """Per feature: share of nulls, and share of values outside the reference's range."""
    out: list[Figure] = []
    for name in [*numeric, *categorical]:
        if name not in frame.columns:
            continue
        column = frame[name]
        out.append(Figure("quality.null_share", float(column.isna().mean()), {"feature": name}))
        spec = profile["columns"].get(name)
        if name in numeric and spec and spec.get("min") is not None:
            values = column.dropna()
            outside = (
                ((values < spec["min"]) | (values > spec["max"])).mean() if len(values) else 0.0
            )
            out.append(Figure("quality.out_of_range_share", float(outside), {"feature": name}))
    return out
