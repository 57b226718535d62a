"""A brute-force pandas reference of every feature, and hand-checked point-in-time examples.

The reference is written from the feature descriptions, independently of the SQL compiler; the
property tests in test_features_skew.py compare the store against it on random histories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert

from core.tables import customers, online_features, tickets, transactions
from tasks.features.definitions import FEATURES

DAY = timedelta(days=1)
AS_OF = datetime(2024, 7, 1)


@dataclass
class History:
    """Raw warehouse rows (dicts with the table's columns, minus bookkeeping columns)."""

    versions: list[dict[str, Any]] = field(default_factory=list)
    txns: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)


def version(
    cid: str, valid_from: datetime, valid_to: datetime | None, **attrs: Any
) -> dict[str, Any]:
    """One SCD2 row with sensible defaults."""
    row = {
        "customer_id": cid,
        "signup_date": date(2023, 1, 10),
        "plan": "basic",
        "contract": "month-to-month",
        "payment_method": "credit_card",
        "region": "north",
        "monthly_charges": 30.0,
        "status": "active",
        "cancel_date": None,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    row.update(attrs)
    return row


def write_history(engine: Engine, history: History) -> None:
    """Replace the warehouse's customers, transactions and tickets (and the online store)."""
    book = {"run_id": "test"}
    with engine.begin() as conn:
        for table in (online_features, customers, transactions, tickets):
            conn.execute(table.delete())
        if history.versions:
            rows = [{**r, **book, "attrs_hash": "h"} for r in history.versions]
            conn.execute(insert(customers), rows)
        if history.txns:
            conn.execute(insert(transactions), [{**r, **book} for r in history.txns])
        if history.tickets:
            conn.execute(insert(tickets), [{**r, **book} for r in history.tickets])


def _days(later: datetime, earlier: datetime | date) -> float:
    if not isinstance(earlier, datetime):
        earlier = datetime(earlier.year, earlier.month, earlier.day)
    return (later - earlier).total_seconds() / 86400


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _ratio(num: float, den: float) -> float:
    return num / den if den and not math.isnan(den) and not math.isnan(num) else math.nan


def _crm(history: History, cid: str, t: datetime) -> dict[str, Any]:
    def at(moment: datetime) -> dict[str, Any] | None:
        hits = [
            v
            for v in history.versions
            if v["customer_id"] == cid
            and v["valid_from"] <= moment
            and (v["valid_to"] is None or v["valid_to"] > moment)
        ]
        assert len(hits) <= 1
        return hits[0] if hits else None

    now, d30, d90 = at(t), at(t - 30 * DAY), at(t - 90 * DAY)
    out: dict[str, Any] = {k: None for k in ("plan", "contract", "payment_method", "region")}
    nan = math.nan
    out.update(monthly_charges=nan, tenure_days=nan, days_since_crm_change=nan)
    out.update(price_change_90d=nan, price_change_pct_30d=nan, price_change_pct_90d=nan)
    if now is None:
        return out
    price = now["monthly_charges"]
    out.update({k: now[k] for k in ("plan", "contract", "payment_method", "region")})
    out["monthly_charges"] = price
    out["tenure_days"] = _days(t, now["signup_date"])
    out["days_since_crm_change"] = _days(t, now["valid_from"])
    if d90 is not None:
        out["price_change_90d"] = price - d90["monthly_charges"]
        out["price_change_pct_90d"] = _ratio(price - d90["monthly_charges"], d90["monthly_charges"])
    if d30 is not None:
        out["price_change_pct_30d"] = _ratio(price - d30["monthly_charges"], d30["monthly_charges"])
    return out


def _billing(history: History, cid: str, t: datetime) -> dict[str, Any]:
    seen = [x for x in history.txns if x["customer_id"] == cid and x["occurred_at"] <= t]

    def pick(kind: str | None, days: int, until: datetime = t) -> list[dict[str, Any]]:
        start = t - days * DAY
        return [
            x
            for x in seen
            if (kind is None or x["txn_type"] == kind) and start < x["occurred_at"] <= until
        ]

    def amounts(kind: str, days: int) -> list[float]:
        return [x["amount"] for x in pick(kind, days)]

    base = [x["amount"] for x in pick("charge", 90, until=t - 30 * DAY)]
    recent = amounts("charge", 30)
    charges90 = pick("charge", 90)
    last = None
    if charges90:
        newest = max(x["occurred_at"] for x in charges90)
        last = max(x["amount"] for x in charges90 if x["occurred_at"] == newest)
    payments = pick("payment", 180)
    failed = pick("failed_payment", 180)
    fails90, pays90 = len(pick("failed_payment", 90)), len(pick("payment", 90))
    return {
        "spend_30d": sum(recent),
        "spend_90d": sum(amounts("charge", 90)),
        "spend_180d": sum(amounts("charge", 180)),
        "spend_trend_30d_vs_90d": _ratio(sum(recent) * 60, sum(base) * 30),
        "charge_trend_30d_vs_90d": _ratio(_mean(recent), _mean(base)),
        "last_charge": math.nan if last is None else last,
        "mean_charge_90d": _mean(amounts("charge", 90)),
        "payments_90d": sum(amounts("payment", 90)),
        "unpaid_90d": sum(amounts("charge", 90)) - sum(amounts("payment", 90)),
        "failed_payments_30d": len(pick("failed_payment", 30)),
        "failed_payments_90d": fails90,
        "failed_payment_ratio_90d": _ratio(fails90, fails90 + pays90),
        "refunds_90d": len(pick("refund", 90)),
        "transactions_30d": len(pick(None, 30)),
        "days_since_last_payment": (
            _days(t, max(x["occurred_at"] for x in payments)) if payments else math.nan
        ),
        "days_since_last_failed_payment": (
            _days(t, max(x["occurred_at"] for x in failed)) if failed else math.nan
        ),
    }


def _helpdesk(history: History, cid: str, t: datetime) -> dict[str, Any]:
    seen = [k for k in history.tickets if k["customer_id"] == cid and k["created_at"] <= t]
    is_open = [k for k in seen if k["resolved_at"] is None or k["resolved_at"] > t]

    def created(days: int) -> list[dict[str, Any]]:
        return [k for k in seen if k["created_at"] > t - days * DAY]

    def resolved(days: int) -> list[dict[str, Any]]:
        return [
            k
            for k in seen
            if k["resolved_at"] is not None and t - days * DAY < k["resolved_at"] <= t
        ]

    def rated(days: int) -> list[int]:
        return [k["satisfaction"] for k in resolved(days) if k["satisfaction"] is not None]

    return {
        "tickets_30d": len(created(30)),
        "tickets_90d": len(created(90)),
        "open_tickets": len(is_open),
        "open_urgent_tickets": sum(k["priority"] in ("urgent", "high") for k in is_open),
        "open_tickets_over_7d": sum(k["created_at"] <= t - 7 * DAY for k in is_open),
        "oldest_open_ticket_days": (
            _days(t, min(k["created_at"] for k in is_open)) if is_open else math.nan
        ),
        "urgent_tickets_90d": sum(k["priority"] == "urgent" for k in created(90)),
        "cancellation_tickets_90d": sum(k["category"] == "cancellation" for k in created(90)),
        "billing_tickets_90d": sum(k["category"] == "billing" for k in created(90)),
        "mean_satisfaction_90d": _mean(rated(90)),
        "min_satisfaction_180d": min(rated(180), default=math.nan),
        "low_satisfaction_tickets_30d": sum(s <= 2 for s in rated(30)),
        "low_satisfaction_tickets_90d": sum(s <= 2 for s in rated(90)),
        "mean_resolution_hours_90d": _mean(
            [_days(k["resolved_at"], k["created_at"]) * 24 for k in resolved(90)]
        ),
        "days_since_last_ticket": _days(t, max(k["created_at"] for k in seen))
        if seen
        else math.nan,
    }


def reference_features(history: History, cid: str, t: datetime) -> dict[str, Any]:
    """Every feature of (cid, t), computed naively in Python."""
    return {**_crm(history, cid, t), **_billing(history, cid, t), **_helpdesk(history, cid, t)}


def reference_frame(history: History, entity: pd.DataFrame) -> pd.DataFrame:
    """The reference for every entity row, with the store's dtypes."""
    rows = [reference_features(history, r.customer_id, r.as_of) for r in entity.itertuples()]
    frame = pd.DataFrame(rows, index=entity.index, columns=[fd.name for fd in FEATURES])
    for fd in FEATURES:
        frame[fd.name] = frame[fd.name].astype(object if fd.dtype == "category" else "float64")
    return frame


def assert_features_equal(got: pd.DataFrame, want: pd.DataFrame, rtol: float = 1e-9) -> None:
    """Equal feature columns: categories exactly, numbers up to float rounding (NaN == NaN)."""
    for fd in FEATURES:
        if fd.dtype == "category":
            assert got[fd.name].tolist() == want[fd.name].tolist(), fd.name
        else:
            pd.testing.assert_series_equal(
                got[fd.name], want[fd.name], check_exact=False, rtol=rtol, atol=1e-6, obj=fd.name
            )


def test_reference_covers_every_feature() -> None:
    names = set(reference_features(History(), "C0", AS_OF))
    assert names == {fd.name for fd in FEATURES}
