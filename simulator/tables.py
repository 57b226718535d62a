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


# (event type, monthly rate of a fully engaged user, of a disengaged one, value range or None)
APP_EVENTS: tuple[tuple[str, float, float, tuple[float, float] | None], ...] = (
    ("login", 34.0, 4.0, None),
    ("view", 52.0, 6.0, None),
    ("search", 18.0, 2.0, None),
    ("play", 28.0, 2.0, (1.0, 60.0)),  # minutes played
    ("like", 12.0, 0.5, None),
    ("share", 4.0, 0.1, None),
    ("ticket", 0.2, 2.5, None),  # riskier users open more tickets
)


def app_events(
    customers: int = 20_000,
    *,
    months: int = 12,
    seed: int = 17,
    scale: float = 1.0,
    start: datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, subscriptions) of a subscription app: 8 event types (7 usage kinds + payments).

    Each account has a hidden engagement: less engaged accounts use the app less, open more
    tickets and cancel sooner, and their usage fades to half over the 60 days before they cancel
    (usage falls before churn). A per-account habit, unrelated to churn, scales usage too, so the
    signal is real but far from perfect (a plain notebook scores about 0.68 ROC-AUC at 30 days).
    ``scale`` multiplies the usage rates: at 1.0, 20,000 accounts over 12 months give about 14
    million events. Built with NumPy per event type, not row by row; times are whole seconds.
    Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    origin = np.datetime64(start or datetime(2024, 1, 1), "s")
    horizon_s = 30 * months * 86_400
    engagement = rng.beta(2.0, 1.6, customers)
    begin = rng.uniform(-120, 30 * months - 45, customers) * 86_400
    life = rng.exponential(150 + 1500 * engagement**2) * 86_400
    end = begin + life
    ended = end < horizon_s
    last = np.minimum(np.where(ended, end, horizon_s), horizon_s)
    span = np.maximum(last - np.maximum(begin, 0.0), 0.0)
    first = np.maximum(begin, 0.0)
    users, times, kinds, values = [], [], [], []
    habit = rng.lognormal(0.0, 0.6, customers)  # how much anyone uses the app, churn aside
    for code, (_, busy, idle, value_range) in enumerate(APP_EVENTS):
        rate = (idle + (busy - idle) * engagement) * (habit * scale if code < 6 else 1.0)
        counts = rng.poisson(rate * span / (30 * 86_400))
        who = np.repeat(np.arange(customers), counts)
        at = first[who] + rng.random(len(who)) * span[who]
        if code < 6:  # usage fades, to half, over the 60 days before a cancellation
            to_end = np.where(ended[who], end[who] - at, np.inf) / 86_400
            keep = rng.random(len(who)) < np.clip(0.5 + to_end / 120.0, 0.5, 1.0)
            who, at = who[keep], at[keep]
        users.append(who)
        times.append(at)
        kinds.append(np.full(len(who), code, dtype=np.int8))
        values.append(
            np.round(rng.uniform(*value_range, len(who)), 1)
            if value_range
            else np.full(len(who), np.nan)
        )
    price = rng.choice(np.array([9.99, 14.99, 24.99]), customers)
    paid = np.floor(np.maximum(last - begin, 0.0) / (30 * 86_400)).astype(int) + 1
    who = np.repeat(np.arange(customers), paid)
    month = np.arange(len(who)) - np.repeat(np.cumsum(paid) - paid, paid)
    at = begin[who] + month * 30 * 86_400
    inside = (at >= 0) & (at <= last[who])
    users.append(who[inside])
    times.append(at[inside])
    kinds.append(np.full(int(inside.sum()), len(APP_EVENTS), dtype=np.int8))
    values.append(price[who[inside]])
    names = np.array([name for name, *_ in APP_EVENTS] + ["payment"], dtype=object)
    ids = np.array([f"A{i:06d}" for i in range(customers)], dtype=object)
    all_users = np.concatenate(users)
    stamp = origin + np.concatenate(times).astype("int64").astype("timedelta64[s]")
    events = pd.DataFrame(
        {
            "user_id": ids[all_users],
            "ts": stamp,
            "event": names[np.concatenate(kinds)],
            "amount": np.concatenate(values),
        }
    )
    events = events.sort_values(["ts", "user_id"], kind="stable").reset_index(drop=True)
    subs = pd.DataFrame(
        {
            "user_id": ids,
            "started": origin + begin.astype("int64").astype("timedelta64[s]"),
            "ended": pd.Series(origin + end.astype("int64").astype("timedelta64[s]")).where(ended),
        }
    )
    return events, subs
