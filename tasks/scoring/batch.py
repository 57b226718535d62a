"""Score a model's population with its champion: probability, risk band and reasons per customer.

Any registered model: ``churn-model`` scores every customer of the online store, a declared
source's ``churn-<name>`` every customer of its population at the source's latest data, from the
source's online rows (``tasks.modeldata``). The champion is ``models:/<name>@champion`` in the
MLflow registry; features are the online store's (the same vectors serving uses); reasons are the
model's own SHAP contributions (``ChurnModel.explain``) and bands come from ``models.risk``. A
batch is keyed by (model_name, as_of, model_version): writing it again replaces it in one
transaction, so a rerun after a crash never duplicates rows.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from sqlalchemy import Engine, delete, insert

from core.names import CHAMPION, utc_now
from core.tables import churn_scores
from models.pyfunc import ChurnModel
from models.risk import risk_bands
from tasks.modeldata import ModelData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChampionModel:
    """The champion's loaded model and its registry coordinates."""

    model: ChurnModel
    name: str
    version: str


@dataclass(frozen=True)
class ScoreBatch:
    """What one scoring run wrote."""

    model_name: str
    model_version: str
    as_of: datetime
    rows: int
    bands: dict[str, int]
    unknown_ids: int
    seconds: float


def load_champion(*, tracking_uri: str, model_name: str) -> ChampionModel:
    """Load ``models:/<model_name>@champion``; a clear error when no champion exists yet."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except mlflow.exceptions.MlflowException as exc:
        raise LookupError(
            f"no {CHAMPION!r} version of {model_name!r} in {tracking_uri}; "
            "run the train (or retrain) flow until the gate promotes a model (a declared"
            " source's churn-<name>: make declare SPEC=...)"
        ) from exc
    mlflow.set_registry_uri(tracking_uri)
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@{CHAMPION}")
    model = loaded.unwrap_python_model()
    if not isinstance(model, ChurnModel):
        raise TypeError(
            f"{model_name} v{version.version} is a {type(model).__name__}, not ChurnModel"
        )
    return ChampionModel(model=model, name=model_name, version=str(version.version))


def score_frame(model: ChurnModel, features: pd.DataFrame, *, top_k: int = 3) -> pd.DataFrame:
    """customer_id, probability, risk_band and reasons (top-k contributions) per feature row."""
    if features.empty:
        return pd.DataFrame(columns=["customer_id", "probability", "risk_band", "reasons"])
    probabilities = model.predict(None, features)["score"].to_numpy()
    explanations = model.explain(features, top_k=top_k)
    return pd.DataFrame(
        {
            "customer_id": features["customer_id"].to_numpy(),
            "probability": probabilities,
            "risk_band": risk_bands(probabilities),
            "reasons": [
                [{"feature": c.feature, "contribution": round(c.contribution, 6)} for c in row]
                for row in explanations
            ],
        }
    )


def write_scores(
    scores: pd.DataFrame,
    *,
    as_of: Sequence[datetime],
    model_name: str,
    model_version: str,
    engine: Engine,
) -> int:
    """Replace the batches (``model_name`` x ``as_of`` x ``model_version``) with ``scores`` in one
    transaction."""
    now = utc_now()
    rows: list[dict[str, Any]] = [
        {
            "as_of": moment,
            "model_version": model_version,
            "customer_id": cid,
            "model_name": model_name,
            "probability": float(p),
            "risk_band": band,
            "reasons": reasons,
            "scored_at": now,
        }
        for moment, cid, p, band, reasons in zip(
            as_of,
            scores["customer_id"],
            scores["probability"],
            scores["risk_band"],
            scores["reasons"],
            strict=True,
        )
    ]
    t = churn_scores.c
    with engine.begin() as conn:
        conn.execute(
            delete(churn_scores).where(
                t.model_name == model_name,
                t.model_version == model_version,
                t.as_of.in_(set(as_of)),
            )
        )
        if rows:
            conn.execute(insert(churn_scores), rows)
    return len(rows)


def score_customers(
    champion: ChampionModel, data: ModelData, *, engine: Engine, top_k: int = 3
) -> ScoreBatch:
    """Score every customer of the model's population with ``champion`` and write the batch."""
    started = time.perf_counter()
    spec_hash = champion.model.spec.definitions_hash
    online = data.current_features(engine=engine)
    if online.frame.empty:
        build = (
            "run the build_features flow"
            if data.source is None
            else f"rerun make declare SPEC=... for source {data.source!r}"
        )
        raise ValueError(f"{data.model_name}: no online features of its population; {build}")
    if online.unknown_ids:
        log.warning(
            "%s: %d customer(s) of the population have no online features (materialized before"
            " the latest data?); they are not scored",
            data.model_name,
            len(online.unknown_ids),
        )
    if online.definitions_hash != spec_hash:
        raise ValueError(
            f"{champion.name} v{champion.version} was trained on feature definitions "
            f"{spec_hash[:12]}, the online store holds {online.definitions_hash[:12]}; "
            "retrain (or roll back) before scoring"
        )
    scores = score_frame(champion.model, online.frame, top_k=top_k)
    moments = [online.as_of[cid] for cid in scores["customer_id"]]
    rows = write_scores(
        scores,
        as_of=moments,
        model_name=champion.name,
        model_version=champion.version,
        engine=engine,
    )
    return ScoreBatch(
        model_name=champion.name,
        model_version=champion.version,
        as_of=max(moments),
        rows=rows,
        bands=dict(Counter(scores["risk_band"])),
        unknown_ids=len(online.unknown_ids),
        seconds=time.perf_counter() - started,
    )
