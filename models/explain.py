"""Per-prediction explanations from XGBoost's own SHAP values (``pred_contribs=True``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from models.estimator import to_dmatrix


@dataclass(frozen=True)
class Contribution:
    """How much one feature pushed one prediction, in log-odds (positive = riskier)."""

    feature: str
    contribution: float


def compute_contributions(booster: xgb.Booster, matrix: pd.DataFrame) -> pd.DataFrame:
    """SHAP value per row and feature, plus the ``bias`` column; rows sum to the log-odds score."""
    values = booster.predict(to_dmatrix(matrix), pred_contribs=True)
    return pd.DataFrame(values, columns=[*matrix.columns, "bias"], index=matrix.index)


def explain_predictions(
    booster: xgb.Booster, matrix: pd.DataFrame, *, top_k: int = 5
) -> list[list[Contribution]]:
    """The ``top_k`` features with the largest absolute contribution, per row, largest first."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    contribs = compute_contributions(booster, matrix).drop(columns="bias")
    values = contribs.to_numpy()
    names = np.asarray(contribs.columns)
    k = min(top_k, values.shape[1])
    # stable sort on -|value| keeps feature order among ties, so explanations are reproducible
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    return [
        [Contribution(str(names[j]), float(values[i, j])) for j in row]
        for i, row in enumerate(order)
    ]
