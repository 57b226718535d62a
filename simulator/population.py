"""The customer base as a struct of numpy arrays (one slot per customer ever seen)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from simulator.config import PLAN_PRICE_CENTS
from simulator.timeutil import DAY, HOUR, NEVER, numbered

ID_OFFSET = 1_000_001  # customer index 0 is C1000001

# Attribute mixes (index order as in simulator.config enumerations).
PLAN_P = (0.45, 0.35, 0.20)
CONTRACT_P_BASE = (0.55, 0.25, 0.20)
CONTRACT_P_NEW = (0.68, 0.20, 0.12)
PM_P = (0.34, 0.24, 0.30, 0.12)
REGION_P = (0.30, 0.25, 0.25, 0.20)
LOG_USAGE_TYPICAL = np.log(20.0)
LOG_USAGE_PLAN_STEP = 0.35
INITIAL_DECAYING = 0.06
MEAN_TENURE_DAYS = 540.0
MAX_TENURE_DAYS = 6 * 365


def day_of_month(seconds: np.ndarray) -> np.ndarray:
    days = seconds.astype("datetime64[s]").astype("datetime64[D]")
    return (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def typical_log_usage(plan: np.ndarray) -> np.ndarray:
    return LOG_USAGE_TYPICAL + LOG_USAGE_PLAN_STEP * plan


def decay_trend(rng: np.random.Generator, k: int) -> np.ndarray:
    """Monthly log-usage drift of customers whose usage is fading."""
    return -rng.uniform(0.12, 0.35, k)


def steady_trend(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.normal(0.004, 0.01, k)


class Population:
    """All customers: static attributes, CRM state and the latent drivers of behaviour."""

    FIELDS: ClassVar[dict[str, tuple[type, float]]] = {
        "signup": (np.int64, 0),  # signup time (s)
        "cancel": (np.int64, int(NEVER)),  # cancellation time (s)
        "plan": (np.int8, 0),
        "contract": (np.int8, 0),
        "pm": (np.int8, 0),
        "region": (np.int8, 0),
        "price": (np.int64, 0),  # monthly_charges in cents
        "bill_day": (np.int8, 0),  # 0..27: charge on day bill_day + 1 of each month
        "bill_sec": (np.int32, 0),  # time of day of the charge
        "lu": (np.float64, 0.0),  # latent log usage this month
        "lu1": (np.float64, np.nan),  # log usage on the last bill
        "lu3": (np.float64, np.nan),  # log usage two bills before the last
        "lu2": (np.float64, np.nan),
        "trend": (np.float64, 0.0),  # monthly drift of lu
        "decaying": (np.bool_, False),
        "frailty": (np.float64, 0.0),  # unobserved churn propensity
        "stress": (np.float64, 1.0),  # unobserved payment-failure propensity
        "pi_state": (np.float64, 0.0),  # decaying memory of price increases
        "pi_new": (np.float64, 0.0),
        "fail_state": (np.float64, 0.0),  # decaying memory of failed payments
        "fail_cur": (np.float64, 0.0),  # failures dated in the current month
        "fail_next": (np.float64, 0.0),  # failures dated in the next month
        "last_charge": (np.int64, 0),
        "last_charge_t": (np.int64, 0),
        "drift_hit": (np.bool_, False),
        "initial": (np.bool_, False),
    }

    signup: np.ndarray
    cancel: np.ndarray
    plan: np.ndarray
    contract: np.ndarray
    pm: np.ndarray
    region: np.ndarray
    price: np.ndarray
    bill_day: np.ndarray
    bill_sec: np.ndarray
    lu: np.ndarray
    lu1: np.ndarray
    lu2: np.ndarray
    lu3: np.ndarray
    trend: np.ndarray
    decaying: np.ndarray
    frailty: np.ndarray
    stress: np.ndarray
    pi_state: np.ndarray
    pi_new: np.ndarray
    fail_state: np.ndarray
    fail_cur: np.ndarray
    fail_next: np.ndarray
    last_charge: np.ndarray
    last_charge_t: np.ndarray
    drift_hit: np.ndarray
    initial: np.ndarray

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.capacity = capacity
        self._ids = np.zeros(0, dtype="U8")
        for name, (dtype, fill) in self.FIELDS.items():
            setattr(self, name, np.full(capacity, fill, dtype=dtype))

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= self.capacity:
            return
        new_cap = max(need, int(self.capacity * 1.5) + 16)
        for name, (dtype, fill) in self.FIELDS.items():
            grown: np.ndarray = np.full(new_cap, fill, dtype=dtype)
            grown[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, grown)
        self.capacity = new_cap

    def add(
        self, rng: np.random.Generator, signup: np.ndarray, contract_p: tuple[float, ...]
    ) -> np.ndarray:
        """Append customers who signed up at ``signup`` (sorted); returns their indices."""
        k = len(signup)
        self._reserve(k)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        plan = rng.choice(3, size=k, p=PLAN_P).astype(np.int8)
        factor = rng.uniform(0.9, 1.1, k)
        self.signup[idx] = signup
        self.plan[idx] = plan
        self.contract[idx] = rng.choice(3, size=k, p=contract_p)
        self.pm[idx] = rng.choice(4, size=k, p=PM_P)
        self.region[idx] = rng.choice(4, size=k, p=REGION_P)
        self.price[idx] = np.rint(np.asarray(PLAN_PRICE_CENTS)[plan] * factor).astype(np.int64)
        self.bill_day[idx] = np.minimum(day_of_month(signup) - 1, 27)
        self.bill_sec[idx] = rng.integers(6 * HOUR, 22 * HOUR, k)
        self.lu[idx] = typical_log_usage(plan) + rng.normal(0.0, 0.45, k)
        self.trend[idx] = steady_trend(rng, k)
        self.frailty[idx] = rng.normal(0.0, 1.0, k)
        self.stress[idx] = np.exp(rng.normal(0.0, 0.6, k))
        return idx

    def ids(self, idx: np.ndarray) -> list[str]:
        """CRM customer_id (= billing account_id) of each index."""
        if len(self._ids) < self.n:
            self._ids = numbered("C", np.arange(self.n) + ID_OFFSET, 7)
        ids: list[str] = self._ids[idx].tolist()
        return ids


def initial_base(rng: np.random.Generator, n: int, start: int, capacity: int) -> Population:
    """Customers who signed up before the simulation start (tenures spread over six years)."""
    pop = Population(capacity)
    # exponential tenure truncated at MAX_TENURE_DAYS (inverse CDF, no pile-up at the cap)
    tail = 1.0 - np.exp(-MAX_TENURE_DAYS / MEAN_TENURE_DAYS)
    tenure = -MEAN_TENURE_DAYS * np.log1p(-rng.random(n) * tail)
    signup = start - (tenure * DAY).astype(np.int64) - rng.integers(HOUR, 12 * HOUR, n)
    signup = np.sort(signup)
    idx = pop.add(rng, signup, CONTRACT_P_BASE)
    pop.initial[idx] = True
    decaying = rng.random(n) < INITIAL_DECAYING
    pop.decaying[idx] = decaying
    pop.trend[idx[decaying]] = decay_trend(rng, int(decaying.sum()))
    return pop


def signups(rng: np.random.Generator, pop: Population, k: int, t0: int, t1: int) -> np.ndarray:
    """New customers of one month, at uniform times in [t0, t1); returns their indices."""
    signup = np.sort(rng.integers(t0, t1, k))
    return pop.add(rng, signup, CONTRACT_P_NEW)
