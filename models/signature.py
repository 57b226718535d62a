"""MLflow signature and input example for the churn pyfunc: raw feature columns in, score out."""

from __future__ import annotations

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec

from models.preprocessing import FeatureSpec

SCORE_COLUMN = "score"


def build_signature(spec: FeatureSpec) -> ModelSignature:
    """Inputs: one column per feature (double, or string for categoricals, nulls allowed)."""
    inputs: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.string if name in spec.categories else DataType.double, name)
        for name in spec.names
    ]
    return ModelSignature(
        inputs=Schema(inputs), outputs=Schema([ColSpec(DataType.double, SCORE_COLUMN)])
    )


def build_input_example(frame: pd.DataFrame, *, spec: FeatureSpec, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` rows of ``frame``, restricted to the model inputs in signature order."""
    example = frame.loc[:, list(spec.names)].head(rows).copy()
    for name in spec.names:
        if name in spec.categories:
            example[name] = example[name].astype(object).where(example[name].notna(), None)
        else:
            example[name] = example[name].astype("float64")
    return example.reset_index(drop=True)
