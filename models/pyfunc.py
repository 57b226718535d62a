"""The churn model as an MLflow pyfunc: raw feature frame in, churn probability out.

The booster (XGBoost JSON) and the feature spec (order, categories, definitions hash) are stored as
two artifacts of one MLflow model, so a service loading ``models:/churn-model@champion`` gets the
exact preprocessing it was trained with, and can refuse features built from other definitions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb
from mlflow.pyfunc import PythonModel, PythonModelContext

from models.estimator import predict_scores
from models.explain import Contribution, explain_predictions
from models.preprocessing import FeatureSpec, to_model_matrix
from models.signature import SCORE_COLUMN

BOOSTER_ARTIFACT = "booster"
SPEC_ARTIFACT = "feature_spec"
# Logged as "models from code" (no pickle): MLflow runs this file to build the model object.
ENTRY_POINT = Path(__file__).with_name("_mlflow_entry.py")


class ChurnModel(PythonModel):
    """Preprocess with the stored spec, score with the stored booster."""

    def __init__(self, booster: xgb.Booster | None = None, spec: FeatureSpec | None = None):
        self._booster = booster
        self._spec = spec

    def load_context(self, context: PythonModelContext) -> None:
        """Read the booster and spec artifacts MLflow hands us."""
        booster = xgb.Booster()
        booster.load_model(context.artifacts[BOOSTER_ARTIFACT])
        with open(context.artifacts[SPEC_ARTIFACT], encoding="utf-8") as fh:
            spec = FeatureSpec.from_dict(json.load(fh))
        self._booster, self._spec = booster, spec

    @property
    def booster(self) -> xgb.Booster:
        if self._booster is None:
            raise RuntimeError("ChurnModel has no booster: load it with mlflow.pyfunc.load_model")
        return self._booster

    @property
    def spec(self) -> FeatureSpec:
        if self._spec is None:
            raise RuntimeError("ChurnModel has no spec: load it with mlflow.pyfunc.load_model")
        return self._spec

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Churn probability per row, in a ``score`` column aligned with the input index."""
        matrix = to_model_matrix(model_input, spec=self.spec)
        return pd.DataFrame(
            {SCORE_COLUMN: predict_scores(self.booster, matrix)}, index=model_input.index
        )

    def explain(self, frame: pd.DataFrame, *, top_k: int = 5) -> list[list[Contribution]]:
        """Top-k feature contributions per row (see :func:`models.explain.explain_predictions`)."""
        return explain_predictions(
            self.booster, to_model_matrix(frame, spec=self.spec), top_k=top_k
        )
