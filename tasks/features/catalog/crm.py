"""CRM attributes of the SCD2 version valid at as_of (and price changes against older versions)."""

from __future__ import annotations

from typing import Any

from core.tables import customers
from tasks.features.spec import Aggregate, Dtype, FeatureDef

C = customers.c


def _crm(name: str, aggregate: Aggregate, value: Any, description: str, **kw: Any) -> FeatureDef:
    dtype: Dtype = kw.pop("dtype", "float")
    return FeatureDef(name, dtype, description, customers, aggregate, value=value, **kw)


CRM_FEATURES: tuple[FeatureDef, ...] = (
    _crm("plan", "attr", C.plan, "Plan of the CRM version valid at as_of.", dtype="category"),
    _crm("contract", "attr", C.contract, "Contract type at as_of.", dtype="category"),
    _crm("payment_method", "attr", C.payment_method, "Payment method at as_of.", dtype="category"),
    _crm("region", "attr", C.region, "Region at as_of.", dtype="category"),
    _crm(  # the CRM contract: 0 < monthly_charges < 1000
        "monthly_charges",
        "attr",
        C.monthly_charges,
        "Monthly price in dollars at as_of.",
        ge=0.0,
        le=1000.0,
    ),
    _crm("tenure_days", "days_since_last", C.signup_date, "Days since signup."),
    _crm(
        "days_since_crm_change",
        "days_since_last",
        C.valid_from,
        "Days since the CRM version valid at as_of started (last plan/price/contract change).",
    ),
    _crm(
        "price_change_90d",
        "change",
        C.monthly_charges,
        "Monthly price now minus 90 days ago, dollars (NaN if not a customer then).",
        window_days=90,
    ),
    _crm(
        "price_change_pct_30d",
        "pct_change",
        C.monthly_charges,
        "Relative monthly price change vs 30 days ago (recent increases weigh most).",
        window_days=30,
    ),
    _crm(
        "price_change_pct_90d",
        "pct_change",
        C.monthly_charges,
        "Relative monthly price change vs 90 days ago.",
        window_days=90,
    ),
)
