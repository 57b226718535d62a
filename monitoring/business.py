"""Business figures a retention team reads: who is flagged, what churn cost, revenue at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd


def business_metrics(
    scored: pd.DataFrame,
    *,
    high_risk: float,
    score_column: str = "score",
    charges_column: str = "monthly_charges",
    labels: pd.Series | None = None,
) -> dict[str, float]:
    """Customers at risk (score >= ``high_risk``), their monthly revenue (when the frame has a
    ``charges_column``: a declared source may have no price), and — when labels are given — the
    realized churn rate of the labelled predictions."""
    scores = scored[score_column].to_numpy(dtype="float64")
    at_risk = scores >= high_risk
    out = {
        "business.customers_scored": float(len(scored)),
        "business.customers_at_risk": float(at_risk.sum()),
        "business.share_at_risk": float(at_risk.mean()) if len(scored) else 0.0,
    }
    if charges_column in scored.columns:
        charges = pd.to_numeric(scored[charges_column], errors="coerce").to_numpy(dtype="float64")
        out["business.monthly_revenue_at_risk"] = float(np.nansum(charges[at_risk]))
    if labels is not None and len(labels):
        out["business.realized_churn_rate"] = float(labels.mean())
    return out
