"""Score features with the champion in-process: past cutoffs (backfill) and the online store.

With no served traffic (the demo), the performance report has nothing to judge. Backfill scores
the historical features of past cutoffs with the champion and logs them into ``prediction_log``
with ``as_of`` = the cutoff and ``request_id`` = ``backfill-<cutoff>-<customer>``, so labels
have arrived for them. Re-running a cutoff replaces the model's backfilled rows of it (no
duplicates). Any model whose data has labels can be backfilled (``tasks.modeldata``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import mlflow
import pandas as pd
from sqlalchemy import Engine, delete, insert

from core.names import CHAMPION
from core.tables import prediction_log
from models.pyfunc import ChurnModel
from models.signature import SCORE_COLUMN
from tasks.modeldata import ModelData
from tasks.monitoring.reference import client

log = logging.getLogger(__name__)
BACKFILL_PREFIX = "backfill-"


def load_champion_model(model_name: str, version: str | None = None) -> ChurnModel:
    """The champion's (or ``version``'s) python model (booster + feature spec), in-process."""
    client()  # points mlflow at the settings' store
    uri = f"models:/{model_name}/{version}" if version else f"models:/{model_name}@{CHAMPION}"
    model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if not isinstance(model, ChurnModel):
        raise TypeError(f"{uri} is a {type(model).__name__}, not a ChurnModel")
    return model


def score_online_store(model: ChurnModel, data: ModelData, *, engine: Engine) -> pd.DataFrame:
    """The data's population in its online store: features, ``as_of`` and ``model``'s score
    (empty when the store holds none of it)."""
    online = data.current_features(engine=engine)
    if online.frame.empty:
        return online.frame
    check_definitions(model, data, where="the online store")
    frame = online.frame.assign(as_of=[online.as_of[c] for c in online.frame["customer_id"]])
    frame = frame.astype({"as_of": "datetime64[ns]"})
    return frame.assign(**{SCORE_COLUMN: score_frame(model, online.frame).to_numpy()})


def score_frame(model: ChurnModel, frame: pd.DataFrame) -> pd.Series:
    """Churn probability of each row of a feature frame."""
    return model.predict(None, frame)[SCORE_COLUMN]


def check_definitions(model: ChurnModel, data: ModelData, *, where: str) -> None:
    """Refuse to score the data's features with a model trained on other definitions."""
    trained, current = model.spec.definitions_hash, data.definitions_hash
    if trained and trained != current:
        raise RuntimeError(
            f"{data.model_name}: the champion was trained on feature definitions {trained[:12]},"
            f" {where} has {current[:12]}; retrain (make retrain MODEL={data.model_name})"
            " before monitoring it"
        )


def backfill_predictions(
    cutoffs: Sequence[datetime],
    *,
    model: ChurnModel,
    model_version: str,
    data: ModelData,
    horizon_days: int,
    engine: Engine,
) -> int:
    """Score everyone active at each cutoff with the champion and log it; return rows logged."""
    check_definitions(model, data, where="the point-in-time features")
    labels = data.labels(cutoffs, horizon_days=horizon_days, engine=engine)
    frame = data.historical_features(labels[["customer_id", "as_of"]], engine=engine)
    frame = frame.assign(**{SCORE_COLUMN: score_frame(model, frame).to_numpy()})
    names = list(data.dtypes)
    digest = data.definitions_hash
    rows: list[dict[str, Any]] = []
    for record in frame[["customer_id", "as_of", SCORE_COLUMN, *names]].to_dict("records"):
        as_of = pd.Timestamp(record["as_of"]).to_pydatetime()
        features = {n: _json_value(record[n], data.dtypes[n]) for n in names}
        rows.append(
            {
                "request_id": f"{BACKFILL_PREFIX}{as_of:%Y%m%d}-{record['customer_id']}",
                "customer_id": record["customer_id"],
                "features": json.dumps(features),
                "score": float(record[SCORE_COLUMN]),
                "model_version": model_version,
                "model_name": data.model_name,
                "definitions_hash": digest,
                "predicted_at": as_of,
                "as_of": as_of,
                "kind": "backfill",
            }
        )
    with engine.begin() as conn:
        for cutoff in cutoffs:
            prefix = f"{BACKFILL_PREFIX}{cutoff:%Y%m%d}-%"
            conn.execute(
                delete(prediction_log).where(
                    prediction_log.c.model_name == data.model_name,
                    prediction_log.c.request_id.like(prefix),
                )
            )
        if rows:
            conn.execute(insert(prediction_log), rows)
    log.info(
        "backfilled %d predictions at %d cutoff(s) with %s v%s",
        len(rows),
        len(cutoffs),
        data.model_name,
        model_version,
    )
    return len(rows)


def _json_value(value: Any, dtype: str) -> Any:
    """A feature value as the online store and ``/predict_features`` write it: null for missing,
    a whole number for a count (pandas holds counts as floats), so a logged row replays as is."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if dtype == "int" and value.is_integer():
            return int(value)
    return value
