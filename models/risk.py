"""Risk bands: the coarse label a retention team acts on, derived from the churn probability.

Scores are calibrated probabilities of cancelling within the label horizon, so the bands are
probability thresholds. Serving, batch scoring and monitoring all use these, never their own.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

RiskBand = Literal["low", "medium", "high"]
# Lower bounds (inclusive). With a monthly churn rate of a few percent, >= 0.25 is roughly the
# riskiest few percent of customers and >= 0.10 the riskiest tenth.
HIGH_RISK = 0.25
MEDIUM_RISK = 0.10


def risk_band(probability: float) -> RiskBand:
    """The band of one churn probability in [0, 1]."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    if probability >= HIGH_RISK:
        return "high"
    if probability >= MEDIUM_RISK:
        return "medium"
    return "low"


def risk_bands(probabilities: npt.ArrayLike) -> list[RiskBand]:
    """Bands for many probabilities (same thresholds as :func:`risk_band`)."""
    return [risk_band(float(p)) for p in np.asarray(probabilities, dtype=float).ravel()]
