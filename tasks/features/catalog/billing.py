"""Billing features: spend, its trend, payments, failures and refunds in windows before as_of."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, or_

from core.tables import transactions
from tasks.features.spec import Aggregate, Dtype, FeatureDef

T = transactions.c
_CHARGE = T.txn_type == "charge"
_PAYMENT = T.txn_type == "payment"
_FAILED = T.txn_type == "failed_payment"
_REFUND = T.txn_type == "refund"
_ONE, _ZERO = 1, 0


def _txn(name: str, aggregate: Aggregate, description: str, **kw: Any) -> FeatureDef:
    dtype: Dtype = kw.pop("dtype", "int" if aggregate == "count" else "float")
    return FeatureDef(name, dtype, description, transactions, aggregate, **kw)


BILLING_FEATURES: tuple[FeatureDef, ...] = (
    _txn(
        "spend_30d",
        "sum",
        "Dollars charged in 30 days.",
        value=T.amount,
        filter=_CHARGE,
        window_days=30,
        ge=0.0,
    ),
    _txn(
        "spend_90d",
        "sum",
        "Dollars charged in 90 days.",
        value=T.amount,
        filter=_CHARGE,
        window_days=90,
        ge=0.0,
    ),
    _txn(
        "spend_180d",
        "sum",
        "Dollars charged in 180 days.",
        value=T.amount,
        filter=_CHARGE,
        window_days=180,
        ge=0.0,
    ),
    _txn(
        "spend_trend_30d_vs_90d",
        "trend",
        "Daily charges in the last 30 days / daily charges in days 31-90 before as_of.",
        value=T.amount,
        filter=_CHARGE,
        window_days=30,
        baseline_days=90,
    ),
    _txn(
        "charge_trend_30d_vs_90d",
        "avg_trend",
        "Mean charge in the last 30 days / mean charge in days 31-90 (usage-fee trend).",
        value=T.amount,
        filter=_CHARGE,
        window_days=30,
        baseline_days=90,
    ),
    _txn(
        "last_charge",
        "last",
        "Amount of the latest charge in 90 days (price + metered usage).",
        value=T.amount,
        filter=_CHARGE,
        window_days=90,
        ge=0.0,
    ),
    _txn(
        "mean_charge_90d",
        "avg",
        "Mean charge amount in 90 days.",
        value=T.amount,
        filter=_CHARGE,
        window_days=90,
        ge=0.0,
    ),
    _txn(
        "payments_90d",
        "sum",
        "Dollars paid in 90 days.",
        value=T.amount,
        filter=_PAYMENT,
        window_days=90,
        ge=0.0,
    ),
    _txn(
        "unpaid_90d",
        "sum",
        "Charged minus paid dollars in 90 days.",
        value=case((_CHARGE, T.amount), (_PAYMENT, -T.amount), else_=_ZERO),
        window_days=90,
    ),
    _txn(
        "failed_payments_30d",
        "count",
        "Failed payments in 30 days.",
        filter=_FAILED,
        window_days=30,
    ),
    _txn(
        "failed_payments_90d",
        "count",
        "Failed payments in 90 days.",
        filter=_FAILED,
        window_days=90,
    ),
    _txn(
        "failed_payment_ratio_90d",
        "ratio",
        "Failed / (failed + successful) payment attempts in 90 days.",
        value=case((_FAILED, _ONE), else_=_ZERO),
        denominator=case((or_(_FAILED, _PAYMENT), _ONE), else_=_ZERO),
        window_days=90,
    ),
    _txn("refunds_90d", "count", "Refunds in 90 days.", filter=_REFUND, window_days=90),
    _txn("transactions_30d", "count", "Billing events of any type in 30 days.", window_days=30),
    _txn(
        "days_since_last_payment",
        "days_since_last",
        "Days since the last successful payment (NaN if none in 180 days).",
        filter=_PAYMENT,
        window_days=180,
    ),
    _txn(
        "days_since_last_failed_payment",
        "days_since_last",
        "Days since the last failed payment (NaN if none in 180 days).",
        filter=_FAILED,
        window_days=180,
    ),
)
