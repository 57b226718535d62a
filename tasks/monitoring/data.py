"""Read what monitoring observes: a model's served predictions, its ingestion runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, or_, select

from core.tables import ingestion_runs, prediction_log
from tasks.features.definitions import FEATURES

# the built-in model's feature columns by kind (a declared source's come from its dtypes)
# prediction_log kinds that are traffic: served by id, and the backfill of past cutoffs
MONITORED_KINDS = ("predict", "backfill")
NUMERIC = [fd.name for fd in FEATURES if fd.dtype != "category"]
CATEGORICAL = [fd.name for fd in FEATURES if fd.dtype == "category"]


def split_columns(dtypes: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names of ``{name: dtype}``, in order."""
    numeric = [n for n, d in dtypes.items() if d != "category"]
    return numeric, [n for n, d in dtypes.items() if d == "category"]


def feature_frame(documents: Sequence[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Feature JSON documents → one typed column per feature (missing keys become null)."""
    parsed = [json.loads(doc) for doc in documents]
    numeric, categorical = split_columns(dtypes)
    data: dict[str, Any] = {}
    for name in categorical:
        data[name] = pd.Series([row.get(name) for row in parsed], dtype=object)
    for name in numeric:
        values = [row.get(name) for row in parsed]
        data[name] = pd.Series(np.array(values, dtype=np.float64), dtype=np.float64)
    return pd.DataFrame(data)


def load_predictions(
    *,
    engine: Engine,
    model_name: str,
    dtypes: Mapping[str, str],
    definitions_hash: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    features: bool = True,
) -> pd.DataFrame:
    """Predictions ``model_name`` served (predicted_at in [since, until)): ids, score, version,
    features (parsed by ``dtypes``; left out with ``features=False``: parsing every logged
    vector is most of the cost of months of predictions), and ``as_of`` = the features' time
    (coalesce(as_of, predicted_at)), which labels are judged from.

    With ``definitions_hash``, only those made on these feature definitions (or logged without a
    hash): a model retrained on changed definitions must not be judged on its predecessor's
    feature vectors. What-if calls (``/predict_features``, kind ``what_if``) are not traffic:
    they are left out.
    """
    t = prediction_log.c
    conditions = [t.model_name == model_name, t.kind.in_(MONITORED_KINDS)]
    if definitions_hash is not None:
        conditions.append(or_(t.definitions_hash == definitions_hash, t.definitions_hash.is_(None)))
    if since is not None:
        conditions.append(t.predicted_at >= since)
    if until is not None:
        conditions.append(t.predicted_at < until)
    query = select(
        t.request_id,
        t.customer_id,
        t.score,
        t.model_version,
        t.predicted_at,
        func.coalesce(t.as_of, t.predicted_at).label("as_of"),
        *([t.features] if features else []),
    ).where(*conditions)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.id)).all()
    meta = pd.DataFrame.from_records(
        [r[:6] for r in rows],
        columns=["request_id", "customer_id", "score", "model_version", "predicted_at", "as_of"],
    ).astype({"score": "float64", "predicted_at": "datetime64[ns]", "as_of": "datetime64[ns]"})
    if not features:
        return meta
    return pd.concat([meta, feature_frame([r[6] for r in rows], dtypes)], axis=1)


def quarantine_rates(
    *, engine: Engine, sources: Sequence[str], since: datetime | None = None
) -> dict[str, dict[str, float]]:
    """Per source of ``sources``, over its runs started since ``since`` (all when None): rows
    read, quarantined, and the quarantine rate."""
    t = ingestion_runs.c
    query = (
        select(t.source, func.sum(t.rows_read), func.sum(t.rows_quarantined), func.count())
        .where(t.source.in_(list(sources)))
        .group_by(t.source)
    )
    if since is not None:
        query = query.where(t.started_at >= since)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {
        str(source): {
            "rows_read": float(read or 0),
            "rows_quarantined": float(bad or 0),
            "quarantine_rate": float(bad or 0) / float(read) if read else 0.0,
            "runs": float(runs),
        }
        for source, read, bad, runs in rows
    }
