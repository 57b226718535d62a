"""Request and response models of the prediction API (the service's contract, and its OpenAPI).

The feature record is generated from the feature definitions (``tasks.features``): one required
field per feature, categoricals restricted to their allowed values, numbers finite (or ``null``
for a missing value) and within what the sources' contracts allow (``FeatureDef.valid_range``: no
negative tenure, a satisfaction mean in [1, 5]), counts whole and non-negative. Unknown fields are
refused, so a typo is a 400 naming the field instead of a silently missing feature. For a declared
source's model the service builds the same kind of record from that source's features at start
(``feature_record_model``); the endpoint itself takes ``FeatureRecordsRequest`` and checks each
record against the model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from models.risk import RiskBand
from tasks.features.definitions import CATEGORIES, FEATURES

# Documented limit: items per request on both prediction endpoints (docs/serving.md).
MAX_BATCH = 1000
# Numbers beyond these are refused: XGBoost reads float32, where 1e39 is already infinite.
MAX_ABS_VALUE = 1e30
MAX_COUNT = 1_000_000_000
REASONS = 3
UNKNOWN_CUSTOMER = "unknown customer"

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


Bounds = tuple[float | None, float | None]


def _field(fd_dtype: str, allowed: Sequence[str] = (), bounds: Bounds = (None, None)) -> Any:
    """(annotation, FieldInfo) of one feature in the record model; ``bounds`` are the values
    its sources' contracts allow (``FeatureDef.valid_range``)."""
    if fd_dtype == "category":
        return Literal[tuple(allowed)], Field(description=f"one of {', '.join(allowed)}")
    low, high = bounds
    if fd_dtype == "int":
        ge = 0 if low is None else max(0, math.ceil(low))
        le = MAX_COUNT if high is None else min(MAX_COUNT, math.floor(high))
        return int | None, Field(
            ge=ge, le=le, description=f"a count (whole number, {ge}..{le}) or null"
        )
    ge_f = -MAX_ABS_VALUE if low is None else max(-MAX_ABS_VALUE, low)
    le_f = MAX_ABS_VALUE if high is None else min(MAX_ABS_VALUE, high)
    shown = f"{ge_f:g}..{le_f:g}" if (low, high) != (None, None) else f"|x| <= {MAX_ABS_VALUE:g}"
    return float | None, Field(
        ge=ge_f, le=le_f, description=f"a finite number ({shown}), or null when unknown"
    )


def feature_record_model(
    dtypes: Mapping[str, str],
    categories: Mapping[str, Sequence[str]],
    *,
    name: str,
    bounds: Mapping[str, Bounds] | None = None,
) -> type[BaseModel]:
    """A strict record model: one required field per feature (``category``/``int``/``float``),
    numbers within ``bounds`` (a feature's valid range) where given."""
    fields = {
        n: _field(d, categories.get(n, ()), (bounds or {}).get(n, (None, None)))
        for n, d in dtypes.items()
    }
    model: type[BaseModel] = create_model(
        name,
        __config__=_STRICT,
        __doc__="Raw feature values of one customer, as the feature store computes them.",
        **fields,
    )
    return model


def features_request_model(record: type[BaseModel], *, name: str) -> type[BaseModel]:
    """``{"records": [record, ...]}`` with the batch limits of ``PredictFeaturesRequest``."""
    model: type[BaseModel] = create_model(
        name,
        __config__=_STRICT,
        records=(list[record], Field(min_length=1, max_length=MAX_BATCH)),  # type: ignore[valid-type]
    )
    return model


FeatureRecord = feature_record_model(
    {fd.name: fd.dtype for fd in FEATURES},
    CATEGORIES,
    name="FeatureRecord",
    bounds={fd.name: fd.valid_range for fd in FEATURES},
)


class PredictRequest(BaseModel):
    """Customers to score from the online feature store."""

    model_config = _STRICT
    customer_ids: list[CustomerId] = Field(min_length=1, max_length=MAX_BATCH)


class PredictFeaturesRequest(BaseModel):
    """Feature records to score as given (what-if analysis, batch callers)."""

    model_config = _STRICT
    records: list[FeatureRecord] = Field(min_length=1, max_length=MAX_BATCH)  # type: ignore[valid-type]


class FeatureRecordsRequest(BaseModel):
    """Feature records of any model: each record is then checked against the served model's
    record (``FeatureRecord``, or a declared source's ``feature_record_model``)."""

    model_config = _STRICT
    records: list[dict[str, int | float | str | None]] = Field(min_length=1, max_length=MAX_BATCH)


class Reason(BaseModel):
    """One feature's push on the prediction, in log-odds (positive = riskier)."""

    feature: str
    contribution: float


class Prediction(BaseModel):
    """One scored item; ``error`` is set (and the scores are null) when it could not be scored."""

    customer_id: str | None = None
    probability: float | None = None
    risk_band: RiskBand | None = None
    reasons: list[Reason] = Field(default_factory=list)
    model_version: str
    as_of: datetime | None = Field(default=None, description="time the features describe")
    error: str | None = None


class PredictResponse(BaseModel):
    """Predictions in request order, with the id this request is logged under."""

    request_id: str
    model_version: str
    predictions: list[Prediction]
