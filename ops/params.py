"""Flow parameter types that carry their ranges, so Prefect refuses a bad value before any work.

Prefect validates a flow's parameters against its signature with pydantic — for direct calls,
deployment runs and runs started from the UI alike — and the constraints below show in each
deployment's parameter schema. Datetimes are converted to naive UTC here, at the boundary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from core.names import to_naive_utc, utc_now


def _not_in_future(moment: datetime) -> datetime:
    if moment > utc_now():
        raise ValueError(f"{moment.isoformat()} is in the future; give a moment in the past")
    return moment


NaiveUtc = Annotated[datetime, AfterValidator(to_naive_utc)]
PastMoment = Annotated[datetime, AfterValidator(to_naive_utc), AfterValidator(_not_in_future)]
AucFloor = Annotated[
    float,
    Field(gt=0.5, le=1.0, description="holdout ROC-AUC every model must reach, in (0.5, 1]"),
]
AucTolerance = Annotated[
    float, Field(ge=0.0, le=0.5, description="allowed AUC drop against the champion, ≥ 0")
]
HorizonDays = Annotated[int, Field(ge=1, description="label horizon in days, ≥ 1")]
Count = Annotated[int, Field(ge=1)]
TrialCount = Annotated[int, Field(ge=0, description="random-search trials (0: defaults only)")]
ReasonCount = Annotated[int, Field(ge=0, le=50, description="reasons kept per customer, 0-50")]
CountOrZero = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(gt=0.0, le=1.0, description="a share in (0, 1]")]
Probability = Annotated[float, Field(ge=0.0, le=1.0, description="in [0, 1]")]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
AucGain = Annotated[
    float,
    Field(
        ge=0.0,
        le=0.5,
        description="AUC a candidate trained on the champion's data must gain to replace it",
    ),
]
BaselineGain = Annotated[
    float,
    Field(
        ge=-0.5,
        le=0.5,
        description="AUC a first model must gain over a logistic regression on its own split"
        " (negative: it may trail the baseline by that much), in [-0.5, 0.5]",
    ),
]
ModelName = Annotated[
    str,
    Field(
        pattern=r"^churn-[a-z][a-z0-9_-]{0,30}$",
        description="registered model: churn-model, churn-model-90d (the built-in sources) or"
        " churn-<name>, the model of a source declared with make declare SPEC=...",
    ),
]
