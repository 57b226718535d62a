"""Monthly billing: a charge on the billing day, then a payment or failed payments and retries.

A charge is the customer's monthly_charges in force at the billing time plus a metered usage fee
(so spend follows usage). Payment attempts fail more often for cheque payers and for customers
whose usage is low; a failed attempt is retried twice at most. A few charges are partly refunded,
and some cancelling customers get a prorated refund on their cancellation day.
"""

from __future__ import annotations

import numpy as np

from simulator.config import USAGE_RATE_CENTS
from simulator.population import Population, typical_log_usage
from simulator.records import Events
from simulator.timeutil import DAY

CHARGE, PAYMENT, REFUND, FAILED = range(4)
P_FAIL_BY_METHOD = (0.02, 0.015, 0.08, 0.045)
P_RETRY_FAILS = (0.45, 0.5)
P_REFUND = 0.012
P_FINAL_REFUND = 0.35


def bill_times(pop: Population, active: np.ndarray, t0: int) -> np.ndarray:
    return t0 + pop.bill_day[active].astype(np.int64) * DAY + pop.bill_sec[active]


def month_billing(
    pop: Population,
    active: np.ndarray,
    t1: int,
    bill_t: np.ndarray,
    price_at_bill: np.ndarray,
    rng: np.random.Generator,
) -> tuple[Events, np.ndarray, np.ndarray]:
    """Billing events of the customers active at the month start who are billed this month.

    Returns the events and the customer indices and times of the failed payments.
    """
    billed = bill_t < pop.cancel[active]
    c, b = active[billed], bill_t[billed]
    k = len(c)
    plan = pop.plan[c]
    fee = np.rint(np.exp(pop.lu[c]) * np.asarray(USAGE_RATE_CENTS)[plan]).astype(np.int64)
    amount = price_at_bill[billed] + fee
    pop.lu3[c], pop.lu2[c], pop.lu1[c] = pop.lu2[c], pop.lu1[c], pop.lu[c]
    pop.last_charge[c], pop.last_charge_t[c] = amount, b

    low = np.clip(typical_log_usage(plan) - pop.lu[c], 0.0, 3.0)
    p_fail = np.clip(
        np.asarray(P_FAIL_BY_METHOD)[pop.pm[c]] * pop.stress[c] * np.exp(0.8 * low), 0.0, 0.7
    )
    a1 = b + rng.integers(DAY, 4 * DAY, k)
    f1 = rng.random(k) < p_fail
    a2 = a1 + rng.integers(3 * DAY, 6 * DAY, k)
    f2 = f1 & (rng.random(k) < P_RETRY_FAILS[0])
    a3 = a2 + rng.integers(3 * DAY, 6 * DAY, k)
    f3 = f2 & (rng.random(k) < P_RETRY_FAILS[1])
    refund = rng.random(k) < P_REFUND
    refund_amount = np.maximum(np.rint(amount * rng.uniform(0.1, 1.0, k)), 1)
    refund_t = b + rng.integers(2 * DAY, 12 * DAY, k)

    parts = [
        Events.make(c, CHARGE, amount, b),
        Events.make(c, np.where(f1, FAILED, PAYMENT), amount, a1),
        Events.make(c[f1], np.where(f2[f1], FAILED, PAYMENT), amount[f1], a2[f1]),
        Events.make(c[f2], np.where(f3[f2], FAILED, PAYMENT), amount[f2], a3[f2]),
        Events.make(c[refund], REFUND, refund_amount[refund], refund_t[refund]),
    ]
    fail_c = np.concatenate([c[f1], c[f2], c[f3]])
    fail_t = np.concatenate([a1[f1], a2[f2], a3[f3]])
    this_month = fail_t < t1
    np.add.at(pop.fail_cur, fail_c[this_month], 1.0)
    np.add.at(pop.fail_next, fail_c[~this_month], 1.0)
    return Events.concat(parts), fail_c, fail_t


def final_refunds(
    pop: Population, leaving: np.ndarray, t0: int, rng: np.random.Generator
) -> Events:
    """Prorated refunds of this month's charge, written on the cancellation day."""
    cancel = pop.cancel[leaving]
    charged_t = pop.last_charge_t[leaving]
    u = rng.random(len(leaving))
    gap = rng.integers(60, 3000, len(leaving))
    unused = np.clip(1.0 - (cancel - charged_t) / (30 * DAY), 0.0, 1.0)
    amount = np.rint(pop.last_charge[leaving] * unused).astype(np.int64)
    sel = (charged_t >= t0) & (charged_t < cancel) & (u < P_FINAL_REFUND) & (amount > 0)
    events = Events.make(leaving[sel], REFUND, amount[sel], cancel[sel] + gap[sel])
    events.final[:] = True
    return events
