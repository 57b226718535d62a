"""The serving path's model call: feature values → numpy matrix → probability + top reasons.

No pandas per request: the matrix is built with numpy in the order and with the category codes of
the model's ``FeatureSpec`` (the same spec ``models.preprocessing.to_model_matrix`` follows in
training), and scored on one XGBoost thread so that the server's workers,
not XGBoost's thread pool, use the cores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from models.preprocessing import FeatureSpec

BOOSTER_FILE = "booster.json"
SPEC_FILE = "feature_spec.json"


@dataclass(frozen=True)
class Scored:
    """Probabilities and the top contributions (feature, log-odds) of each row."""

    probabilities: np.ndarray
    reasons: list[list[tuple[str, float]]]


class Scorer:
    """A booster and the spec it was trained on; thread-safe (XGBoost predicts concurrently)."""

    def __init__(self, booster: xgb.Booster, spec: FeatureSpec) -> None:
        if booster.feature_names is not None and tuple(booster.feature_names) != spec.names:
            raise ValueError(
                f"booster features {booster.feature_names} differ from the spec's {spec.names}; "
                "the model artifacts do not belong together"
            )
        booster.set_param({"nthread": 1})
        self.booster = booster
        self.spec = spec
        self._codes = {
            name: {value: float(code) for code, value in enumerate(values)}
            for name, values in spec.categories.items()
        }
        self._columns = [(name, self._codes.get(name)) for name in spec.names]

    @classmethod
    def from_dir(cls, folder: Path) -> Scorer:
        """Load ``booster.json`` and ``feature_spec.json`` from ``folder``."""
        booster = xgb.Booster()
        booster.load_model(folder / BOOSTER_FILE)
        spec = FeatureSpec.from_dict(json.loads((folder / SPEC_FILE).read_text(encoding="utf-8")))
        return cls(booster, spec)

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Rows of raw feature values → float matrix; null → NaN, unseen category → NaN."""
        columns = self._columns
        nan = math.nan
        values = [
            [
                row.get(name) if codes is None else codes.get(row.get(name), nan)  # type: ignore[arg-type]
                for name, codes in columns
            ]
            for row in rows
        ]
        # numpy turns None into NaN for a float array
        return np.array(values, dtype=np.float64).reshape(len(rows), len(columns))

    def score(self, matrix: np.ndarray, *, top_k: int) -> Scored:
        """Churn probability per row and its ``top_k`` largest absolute contributions.

        One plain DMatrix serves both calls: the booster knows its own categorical splits, and
        this is cheaper than ``inplace_predict`` plus a DMatrix with names and types.
        """
        dmatrix = xgb.DMatrix(matrix, missing=np.nan, nthread=1)
        probabilities = self.booster.predict(dmatrix, validate_features=False)
        contribs = self.booster.predict(dmatrix, pred_contribs=True, validate_features=False)
        return Scored(
            np.asarray(probabilities, dtype=np.float64),
            top_contributions(np.asarray(contribs)[:, :-1], self.spec.names, top_k=top_k),
        )


def top_contributions(
    values: np.ndarray, names: Sequence[str], *, top_k: int
) -> list[list[tuple[str, float]]]:
    """Per row, the ``top_k`` features by |contribution|, largest first (ties: feature order),
    the same rule as ``models.explain.explain_predictions``."""
    k = min(top_k, values.shape[1])
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    return [[(names[j], float(values[i, j])) for j in row] for i, row in enumerate(order)]
