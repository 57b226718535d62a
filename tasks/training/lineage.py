"""Dataset lineage of MLflow runs: the warehouse rows (cutoffs, horizon) behind each model.

MLflow's ``PandasDataset`` infers its schema value by value (minutes on a million rows) and digests
only the first 10,000 rows; here the schema comes from the dtypes and the digest covers every row.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from sqlalchemy.engine import make_url

from core.names import TAG_CUTOFFS_HOLDOUT, TAG_CUTOFFS_TRAIN, TAG_CUTOFFS_VALIDATION
from core.settings import get_settings
from tasks.training.cutoffs import CutoffSplit, rows_at


def frame_digest(frame: pd.DataFrame) -> str:
    """Content hash of a whole frame, column names included."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(frame.columns).encode()).hexdigest()[:16]


def dtype_to_mlflow(dtype: Any) -> DataType:
    """MLflow column type of a pandas dtype (object and categorical columns hold strings)."""
    kind = pd.api.types
    if kind.is_bool_dtype(dtype):
        return DataType.boolean
    if kind.is_integer_dtype(dtype):
        return DataType.long
    if kind.is_float_dtype(dtype):
        return DataType.double
    if kind.is_datetime64_any_dtype(dtype):
        return DataType.datetime
    return DataType.string


class WarehouseSource(DatasetSource):
    """Dataset source = the warehouse URL (password hidden) + the training-set query's inputs."""

    def __init__(self, url: str, cutoffs: str, horizon_days: int):
        self.url, self.cutoffs, self.horizon_days = url, cutoffs, horizon_days

    @staticmethod
    def _get_source_type() -> str:
        return "churn_warehouse"

    def load(self) -> Any:
        raise NotImplementedError("rebuild it with tasks.labels.build_training_set")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> WarehouseSource:
        raise NotImplementedError("a warehouse source is built, never resolved from a string")

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "cutoffs": self.cutoffs, "horizon_days": self.horizon_days}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> WarehouseSource:
        return cls(source_dict["url"], source_dict["cutoffs"], int(source_dict["horizon_days"]))


class WarehouseDataset(PandasDataset):
    """A training-set slice whose schema is read from its dtypes, not inferred per value."""

    @cached_property
    def schema(self) -> Schema:
        nullable = self.df.isna().any().to_numpy()
        columns: list[ColSpec | TensorSpec] = [
            ColSpec(dtype_to_mlflow(dtype), str(name), required=not bool(has_null))
            for name, dtype, has_null in zip(self.df.columns, self.df.dtypes, nullable, strict=True)
        ]
        return Schema(columns)


def log_datasets(frame: pd.DataFrame, *, split: CutoffSplit, horizon_days: int) -> PandasDataset:
    """Log the training/validation/holdout rows as inputs of the active run; return the holdout."""
    url = make_url(get_settings().database_url).render_as_string(hide_password=True)
    tags = split.as_tags()
    parts = {
        "training": (split.train, tags[TAG_CUTOFFS_TRAIN]),
        "validation": (split.valid, tags[TAG_CUTOFFS_VALIDATION]),
        "holdout": ((split.holdout,), tags[TAG_CUTOFFS_HOLDOUT]),
    }
    datasets = {}
    for context, (cutoffs, names) in parts.items():
        rows = rows_at(frame, cutoffs)
        datasets[context] = WarehouseDataset(
            rows,
            source=WarehouseSource(url, names, horizon_days),
            targets="label",
            name=context,
            digest=frame_digest(rows),
        )
        mlflow.log_input(datasets[context], context=context)
    return datasets["holdout"]
