"""Monthly dynamics: the churn hazard, usage drift, CRM changes and cancellations.

The churn hazard of an active customer is fixed at the start of each month from what happened
before it (so a model with a cut-off at the month start can, in principle, see every driver but
the noise): a logistic model of contract, tenure, payment method, plan, recent price increases,
recent failed payments, unresolved / angry tickets, falling and low usage, plus an unobserved
frailty and monthly noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import MAX_PRICE_CENTS, PLAN_PRICE_CENTS
from simulator.population import (
    PM_P,
    Population,
    decay_trend,
    steady_trend,
    typical_log_usage,
)
from simulator.records import CrmRows
from simulator.timeutil import DAY, HOUR

MONTH_DAYS = 30.44
# A price shock (SimConfig.drift_month) reaches its customers within this many days of the month.
DRIFT_ROLLOUT_DAYS = 10


@dataclass(frozen=True)
class HazardModel:
    """Coefficients of the monthly churn logit."""

    intercept: float = -4.85
    contract: tuple[float, float, float] = (0.0, -2.1, -3.6)
    tenure: float = 2.8  # times exp(-tenure_months / tenure_months_scale)
    tenure_months_scale: float = 9.0
    payment: tuple[float, float, float, float] = (0.0, -0.1, 0.55, 0.2)
    plan: tuple[float, float, float] = (0.15, 0.0, -0.15)
    price_increase: float = 1.4  # times (increase / 10 %) ** 0.4, fading by PRICE_MEMORY a month
    failed_payment: float = 1.1  # per recent failed payment (memory halves each month)
    unresolved_ticket: float = 1.0  # per ticket open for more than a week
    angry_ticket: float = 1.3  # per ticket rated <= 2 in the last 45 days
    usage_drop: float = 2.0  # per unit of log-usage fall over two bills
    low_usage: float = 1.0  # per unit of log usage below the plan's typical level
    frailty_sd: float = 0.45
    noise_sd: float = 0.35


MODEL = HazardModel()
COMPONENTS = (
    "contract",
    "tenure",
    "payment",
    "plan",
    "price_increase",
    "failed_payments",
    "tickets",
    "usage",
    "noise",
)

# Monthly probabilities of CRM changes.
P_UPGRADE = 0.006
P_UPGRADE_HEAVY = 0.025
P_DOWNGRADE = 0.004
P_DOWNGRADE_DECAYING = 0.04
P_CONTRACT = (0.012, 0.006, 0.004)
CONTRACT_MOVES = (((1, 2), (0.7, 0.3)), ((0, 2), (0.4, 0.6)), ((0, 1), (0.4, 0.6)))
P_PRICE_INCREASE = (0.01, 0.025)  # tenure < 12 months, tenure >= 12 months
P_PM_CHANGE = 0.006
P_PM_CHANGE_AFTER_FAILURE = 0.08
P_START_DECAY = 0.022
P_RECOVER = 0.08

UP, DOWN, CONTRACT, PRICE, PM, DRIFT = range(6)
PRICE_MEMORY = 0.6


@dataclass(frozen=True)
class Drift:
    """A price shock in one month for a share of the active customers."""

    increase: float
    share: float


def roll_month(pop: Population) -> None:
    """Age the memories of price increases and failed payments by one month."""
    n = pop.n
    pop.fail_state[:n] = 0.5 * pop.fail_state[:n] + pop.fail_cur[:n]
    pop.fail_cur[:n] = pop.fail_next[:n]
    pop.fail_next[:n] = 0.0
    pop.pi_state[:n] = PRICE_MEMORY * pop.pi_state[:n] + pop.pi_new[:n]
    pop.pi_new[:n] = 0.0


def hazard(
    pop: Population,
    active: np.ndarray,
    t0: int,
    unresolved: np.ndarray,
    angry: np.ndarray,
    rng: np.random.Generator,
    model: HazardModel = MODEL,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Monthly cancellation probability of each active customer, and its logit components."""
    tenure_m = (t0 - pop.signup[active]) / (DAY * MONTH_DAYS)
    plan = pop.plan[active]
    lu1, lu3 = pop.lu1[active], pop.lu3[active]
    drop = np.nan_to_num(np.clip(lu3 - lu1, 0.0, 1.5), nan=0.0)
    low = np.nan_to_num(np.clip(typical_log_usage(plan) - lu1, 0.0, 2.0), nan=0.0)
    parts = {
        "contract": np.asarray(model.contract)[pop.contract[active]],
        "tenure": model.tenure * np.exp(-tenure_m / model.tenure_months_scale),
        "payment": np.asarray(model.payment)[pop.pm[active]],
        "plan": np.asarray(model.plan)[plan],
        "price_increase": model.price_increase * np.minimum(pop.pi_state[active], 3.0),
        "failed_payments": model.failed_payment * np.minimum(pop.fail_state[active], 3.0),
        "tickets": model.unresolved_ticket * np.minimum(unresolved[active], 2)
        + model.angry_ticket * np.minimum(angry[active], 2),
        "usage": model.usage_drop * drop + model.low_usage * low,
        "noise": model.frailty_sd * pop.frailty[active]
        + rng.normal(0.0, model.noise_sd, len(active)),
    }
    logit = model.intercept + sum(parts.values())
    return 1.0 / (1.0 + np.exp(-logit)), parts


def cancel_times(rng: np.random.Generator, k: int, t0: int, t1: int) -> np.ndarray:
    """Uniform day of the month, during opening hours (so a same-day final refund fits)."""
    days = rng.integers(0, (t1 - t0) // DAY, k)
    return t0 + days * DAY + rng.integers(8 * HOUR, 20 * HOUR, k)


def evolve_usage(pop: Population, active: np.ndarray, rng: np.random.Generator) -> None:
    """Some customers start to fade, some fading ones recover; log usage drifts."""
    dec = pop.decaying[active]
    u = rng.random(len(active))
    start = active[~dec & (u < P_START_DECAY)]
    recover = active[dec & (u < P_RECOVER)]
    pop.decaying[start] = True
    pop.trend[start] = decay_trend(rng, len(start))
    pop.decaying[recover] = False
    pop.trend[recover] = steady_trend(rng, len(recover))
    pop.lu[active] += pop.trend[active] + rng.normal(0.0, 0.07, len(active))


def _uniform_times(rng: np.random.Generator, k: int, t0: int, t1: int) -> np.ndarray:
    return rng.integers(t0, t1, k)


def crm_changes(
    pop: Population,
    active: np.ndarray,
    t0: int,
    t1: int,
    bill_t: np.ndarray,
    rng: np.random.Generator,
    drift_rng: np.random.Generator,
    drift: Drift | None,
) -> tuple[CrmRows, np.ndarray, np.ndarray, np.ndarray]:
    """Apply one month of plan / contract / price / payment-method changes and cancellations.

    Returns the CRM rows (full record after each change, then the cancellation), the price in
    force at each active customer's billing time, and the positions (in ``active``) and times of
    price increases (they make billing tickets).
    """
    n = len(active)
    plan, contract, pm = pop.plan[active], pop.contract[active], pop.pm[active]
    tenure_y = (t0 - pop.signup[active]) / (365 * DAY)
    heavy = pop.lu[active] - typical_log_usage(plan) > 0.3
    dec = pop.decaying[active]
    pos_l, kind_l, val_l = [], [], []

    def add(mask: np.ndarray, kind: int, value: np.ndarray | float) -> None:
        pos_l.append(np.flatnonzero(mask))
        kind_l.append(np.full(int(mask.sum()), kind, dtype=np.int8))
        val_l.append(np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))[mask])

    u = rng.random(n)
    p_up = np.where(plan < 2, np.where(heavy, P_UPGRADE_HEAVY, P_UPGRADE), 0.0)
    p_down = np.where(plan > 0, np.where(dec, P_DOWNGRADE_DECAYING, P_DOWNGRADE), 0.0)
    add(u < p_up, UP, 0.0)
    add((u >= p_up) & (u < p_up + p_down), DOWN, 0.0)
    move = rng.random(n) < np.asarray(P_CONTRACT)[contract]
    target = np.empty(n)
    for c, (choices, probs) in enumerate(CONTRACT_MOVES):
        sel = contract == c
        target[sel] = rng.choice(choices, size=int(sel.sum()), p=probs)
    add(move, CONTRACT, target)
    p_pi = np.where(tenure_y >= 1.0, P_PRICE_INCREASE[1], P_PRICE_INCREASE[0])
    add(rng.random(n) < p_pi, PRICE, rng.uniform(0.05, 0.15, n))
    p_pm = np.where(pop.fail_state[active] > 0.4, P_PM_CHANGE_AFTER_FAILURE, P_PM_CHANGE)
    weights = np.tile(np.asarray(PM_P), (n, 1))
    weights[np.arange(n), pm] = 0.0
    weights[pm >= 2, 2:] = 0.0  # customers leaving a cheque method move to card / transfer
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    new_pm = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), 3)
    add(rng.random(n) < p_pm, PM, new_pm)
    times = [_uniform_times(rng, len(p), t0, t1) for p in pos_l]
    if drift is not None:
        hit = drift_rng.random(n) < drift.share
        add(hit, DRIFT, drift.increase)
        times.append(t0 + drift_rng.integers(0, DRIFT_ROLLOUT_DAYS * DAY, int(hit.sum())))

    pos, kind = np.concatenate(pos_l), np.concatenate(kind_l)
    val, t = np.concatenate(val_l), np.concatenate(times)
    cancel = pop.cancel[active]
    keep = t < cancel[pos]
    pos, kind, val, t = pos[keep], kind[keep], val[keep], t[keep]
    order = np.lexsort((kind, t, pos))
    pos, kind, val, t = pos[order], kind[order], val[order], t[order]
    first = np.r_[True, pos[1:] != pos[:-1]] if len(pos) else np.zeros(0, np.bool_)
    rank = np.arange(len(pos)) - np.maximum.accumulate(np.where(first, np.arange(len(pos)), 0))

    price_at_bill = pop.price[active].copy()
    list_price = np.asarray(PLAN_PRICE_CENTS, dtype=np.float64)
    rows: list[CrmRows] = []
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        s = rank == r
        p, k, v, tt = pos[s], kind[s], val[s], t[s]
        c = active[p]
        for step, kk in ((1, UP), (-1, DOWN)):
            m = c[k == kk]
            old = pop.plan[m].astype(np.int64)
            pop.plan[m] = old + step
            ratio = list_price[old + step] / list_price[old]
            pop.price[m] = np.minimum(np.rint(pop.price[m] * ratio), MAX_PRICE_CENTS)
        m = k == CONTRACT
        pop.contract[c[m]] = v[m]
        m = k == PM
        pop.pm[c[m]] = v[m]
        m = (k == PRICE) | (k == DRIFT)
        cm = c[m]
        pop.price[cm] = np.minimum(np.rint(pop.price[cm] * (1.0 + v[m])), MAX_PRICE_CENTS)
        pop.pi_new[cm] += (v[m] / 0.10) ** 0.4
        pop.drift_hit[c[k == DRIFT]] = True
        rows.append(CrmRows.snapshot(pop, c, tt, status=0))
        before = tt < bill_t[p]
        price_at_bill[p[before]] = pop.price[c[before]]

    leaving = active[(cancel >= t0) & (cancel < t1)]
    rows.append(CrmRows.snapshot(pop, leaving, pop.cancel[leaving], status=1))
    is_pi = (kind == PRICE) | (kind == DRIFT)
    return CrmRows.concat(rows), price_at_bill, pos[is_pi], t[is_pi]


def active_at(pop: Population, t0: int) -> np.ndarray:
    """Indices of customers who signed up before ``t0`` and had not cancelled by then."""
    n = pop.n
    return np.flatnonzero((pop.signup[:n] < t0) & (pop.cancel[:n] >= t0))
