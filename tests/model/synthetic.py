"""Small synthetic training sets with a known churn signal, shaped like build_training_set's."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from models.preprocessing import FeatureSpec
from tasks.training import (
    Evaluation,
    LoggedRun,
    TrainedModel,
    evaluate_model,
    record_training_run,
    train_model,
)

CATEGORIES = {
    "plan": ("basic", "standard", "premium"),
    "contract": ("month-to-month", "one-year", "two-year"),
    "region": ("north", "south", "east", "west"),
}
SPEC = FeatureSpec(
    names=("tenure_days", "failed_payments_90d", "monthly_charges", "tickets_30d", *CATEGORIES),
    categories=CATEGORIES,
    definitions_hash="synthetic-definitions-v1",
    monotone={"failed_payments_90d": 1},
)
CUTOFFS = tuple(datetime(2024, month, 1) for month in range(1, 7))


def make_training_set(
    *, rows_per_cutoff: int = 400, cutoffs: tuple[datetime, ...] = CUTOFFS, seed: int = 0
) -> pd.DataFrame:
    """customer_id, as_of, label + SPEC features; churn rises with failed payments and
    month-to-month contracts, falls with tenure; region carries no signal."""
    rng = np.random.default_rng(seed)
    n = rows_per_cutoff * len(cutoffs)
    contract = rng.choice(CATEGORIES["contract"], n, p=[0.5, 0.3, 0.2])
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i % rows_per_cutoff:07d}" for i in range(n)],
            "as_of": np.repeat(np.array(cutoffs, dtype="datetime64[ns]"), rows_per_cutoff),
            "tenure_days": rng.uniform(0, 1500, n),
            "failed_payments_90d": rng.poisson(0.6, n).astype("float64"),
            "monthly_charges": rng.uniform(20, 120, n).round(2),
            "tickets_30d": rng.poisson(0.4, n).astype("float64"),
            "plan": rng.choice(CATEGORIES["plan"], n),
            "contract": contract,
            "region": rng.choice(CATEGORIES["region"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "tickets_30d"] = np.nan
    logit = (
        -2.2
        + 0.9 * frame["failed_payments_90d"]
        - 0.0015 * frame["tenure_days"]
        + np.select([contract == "month-to-month", contract == "two-year"], [1.2, -1.0], 0.0)
        + 0.3 * frame["tickets_30d"].fillna(0)
    )
    frame.insert(2, "label", (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64"))
    return frame


def train_and_log(
    frame: pd.DataFrame, *, spec: FeatureSpec = SPEC, horizon_days: int = 30, seed: int = 1
) -> tuple[TrainedModel, Evaluation, LoggedRun]:
    """Train, evaluate and log one model to the settings' MLflow store (as the train flow does)."""
    trained = train_model.fn(frame, spec=spec, seed=seed)
    evaluation = evaluate_model.fn(trained, frame)
    logged = record_training_run(trained, evaluation, frame, horizon_days=horizon_days)
    return trained, evaluation, logged
