"""Synthetic user data in the two shapes a source spec declares, with real, known churn signal.

``telco_table``: a flat table shaped like the public Telco churn data (~20 mixed columns, blank
TotalCharges for new customers, a Yes/No flag). ``event_log``: an event log plus a subscriptions
file whose end dates follow the customers' behaviour. Deterministic for a seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd


def telco_table(rows: int = 7000, *, seed: int = 7, signal: float = 1.0) -> pd.DataFrame:
    """A Telco-shaped churn table: text cells like the CSV (``TotalCharges`` blank at tenure 0).

    ``signal`` scales how strongly the columns drive churn (1.0: about the public data's AUC).
    """
    rng = np.random.default_rng(seed)

    def pick(values: list[str], p: list[float] | None = None) -> np.ndarray:
        return rng.choice(np.array(values, dtype=object), size=rows, p=p)

    contract = pick(["Month-to-month", "One year", "Two year"], [0.55, 0.21, 0.24])
    internet = pick(["DSL", "Fiber optic", "No"], [0.34, 0.44, 0.22])
    payment = pick(
        ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
    )
    senior = (rng.random(rows) < 0.16).astype(int)
    partner = pick(["Yes", "No"])
    dependents = pick(["Yes", "No"], [0.3, 0.7])
    long_contract = contract != "Month-to-month"
    tenure = np.clip(rng.gamma(1.4, 18, rows) + 20 * long_contract, 0, 72).astype(int)
    tenure[rng.random(rows) < 0.0015] = 0
    online = internet != "No"

    def addon(p_yes: float) -> np.ndarray:
        yes = rng.random(rows) < p_yes
        return np.where(online, np.where(yes, "Yes", "No"), "No internet service").astype(object)

    security, backup, protection, support = addon(0.29), addon(0.34), addon(0.34), addon(0.29)
    tv, movies = addon(0.38), addon(0.39)
    phone = pick(["Yes", "No"], [0.9, 0.1])
    lines = np.where(phone == "Yes", pick(["Yes", "No"]), "No phone service").astype(object)
    monthly = (
        20
        + 25 * (internet == "DSL")
        + 50 * (internet == "Fiber optic")
        + 5 * ((tv == "Yes").astype(int) + (movies == "Yes").astype(int))
        + rng.normal(0, 4, rows)
    ).round(2)
    logit = (
        -1.7
        + 1.3 * (contract == "Month-to-month")
        - 0.7 * (contract == "Two year")
        - 0.035 * tenure
        + 0.9 * (internet == "Fiber optic")
        + 0.55 * (payment == "Electronic check")
        - 0.5 * (support == "Yes")
        - 0.4 * (security == "Yes")
        + 0.35 * senior
        + 0.3 * (partner == "No")
        + 0.008 * (monthly - 65)
        + 0.4 * ((contract == "Month-to-month") & (tenure < 6))
    )
    logit = logit.mean() + signal * (logit - logit.mean())
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    total = np.where(
        tenure > 0, (monthly * tenure * rng.uniform(0.95, 1.05, rows)).round(2), np.nan
    )
    frame = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-{rng.integers(0, 26**4):05X}" for i in range(rows)],
            "gender": pick(["Female", "Male"]),
            "SeniorCitizen": senior.astype(str),
            "Partner": partner,
            "Dependents": dependents,
            "tenure": tenure.astype(str),
            "PhoneService": phone,
            "MultipleLines": lines,
            "InternetService": internet,
            "OnlineSecurity": security,
            "OnlineBackup": backup,
            "DeviceProtection": protection,
            "TechSupport": support,
            "StreamingTV": tv,
            "StreamingMovies": movies,
            "Contract": contract,
            "PaperlessBilling": pick(["Yes", "No"], [0.6, 0.4]),
            "PaymentMethod": payment,
            "MonthlyCharges": monthly.astype(str),
            "TotalCharges": [" " if np.isnan(t) else f"{t:.2f}" for t in total],
            "Churn": np.where(churn, "Yes", "No"),
        }
    )
    return frame


def event_log(
    customers: int = 400, *, months: int = 12, seed: int = 11, start: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, subscriptions): logins, payments and support tickets of ``customers`` people.

    Each customer has a hidden risk; riskier ones log in less, open more tickets, and end their
    subscription sooner, with logins fading in the weeks before the end.
    """
    rng = np.random.default_rng(seed)
    origin = start or datetime(2024, 1, 1)
    stop = origin + timedelta(days=30 * months)
    events: list[tuple[str, datetime, str, float | None]] = []
    subs: list[tuple[str, datetime, datetime | None]] = []
    for i in range(customers):
        cid = f"U{i:05d}"
        risk = rng.random()
        begin = origin + timedelta(days=float(rng.uniform(-90, 30 * months - 60)))
        life = rng.exponential(120 + 900 * (1 - risk) ** 2)
        end: datetime | None = begin + timedelta(days=float(life))
        if end is not None and end >= stop:
            end = None
        subs.append((cid, begin, end))
        last = min(end or stop, stop)
        span = max((last - begin).days, 0)
        for kind, rate, value in (
            ("login", 12 * (1 - risk) + 1, None),
            ("ticket", 0.2 + 2 * risk, None),
        ):
            count = rng.poisson(rate * span / 30)
            days = rng.uniform(0, span, count)
            if kind == "login" and end is not None:
                fading = (span - days) < 45  # fewer logins in the weeks before leaving
                days = days[~fading | (rng.random(count) < 0.25)]
            events += [(cid, begin + timedelta(days=float(d)), kind, value) for d in days]
        price = float(rng.choice([19.0, 39.0, 69.0]))
        for month in range(span // 30 + 1):
            events.append((cid, begin + timedelta(days=30 * month), "payment", price))
    ev = pd.DataFrame(events, columns=["user_id", "ts", "event", "amount"])
    ev = ev.loc[ev["ts"] <= stop].sort_values(["ts", "user_id"]).reset_index(drop=True)
    sub = pd.DataFrame(subs, columns=["user_id", "started", "ended"])
    return ev, sub
