"""Helpdesk tickets: arrival driven by problems, resolution times, satisfaction.

Tickets arrive in the background (more for customers whose usage fades or who recently had a
price increase or failed payment), in reaction to failed payments and price increases, and
shortly before many cancellations. Slow tickets get low satisfaction; a few stay open for weeks.
Open tickets of a customer who cancels are closed at the cancellation, without a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.population import Population
from simulator.records import Columns
from simulator.timeutil import DAY, HOUR

BILLING, TECHNICAL, ACCOUNT, CANCELLATION = range(4)
CATEGORY_P = (0.22, 0.50, 0.25, 0.03)
PRIORITY_P = (0.30, 0.50, 0.15, 0.05)
REACTIVE_PRIORITY_P = (0.05, 0.50, 0.35, 0.10)
MEDIAN_HOURS_BY_PRIORITY = (70.0, 28.0, 10.0, 3.0)
P_STUCK = 0.08
P_NO_SCORE = 0.15
P_TICKET_AFTER_FAILURE = 0.30
P_TICKET_AFTER_PRICE = 0.25
P_TICKET_BEFORE_CANCEL = 0.40
UNRESOLVED_AFTER = 7 * DAY
ANGRY_WINDOW = 45 * DAY


@dataclass
class Tickets(Columns):
    cust: np.ndarray
    created: np.ndarray
    resolved: np.ndarray  # resolution time; at or after the end: still open when it ends
    sat: np.ndarray  # 1..5, 0 = no score
    cat: np.ndarray
    pri: np.ndarray
    tid: np.ndarray  # ticket number, -1 until written

    @classmethod
    def new(
        cls,
        rng: np.random.Generator,
        cust: np.ndarray,
        created: np.ndarray,
        cat: np.ndarray,
        pri: np.ndarray,
    ) -> Tickets:
        k = len(cust)
        median = np.asarray(MEDIAN_HOURS_BY_PRIORITY)[pri]
        hours = median * np.exp(rng.normal(0.0, 1.0, k))
        stuck = rng.random(k) < P_STUCK
        hours[stuck] = rng.uniform(15 * 24, 90 * 24, int(stuck.sum()))
        hours = np.maximum(hours, 0.1)
        mood = 4.7 - 0.55 * np.log1p(hours / 8.0) + rng.normal(0.0, 0.9, k)
        mood -= np.where(cat == CANCELLATION, 0.5, np.where(cat == BILLING, 0.2, 0.0))
        sat = np.clip(np.rint(mood), 1, 5).astype(np.int8)
        sat[rng.random(k) < P_NO_SCORE] = 0
        return cls(
            cust=cust.astype(np.int64),
            created=created.astype(np.int64),
            resolved=created.astype(np.int64) + (hours * HOUR).astype(np.int64) + 1,
            sat=sat,
            cat=cat.astype(np.int8),
            pri=pri.astype(np.int8),
            tid=np.full(k, -1, dtype=np.int64),
        )


def month_tickets(
    pop: Population,
    active: np.ndarray,
    t0: int,
    t1: int,
    fail_c: np.ndarray,
    fail_t: np.ndarray,
    price_c: np.ndarray,
    price_t: np.ndarray,
    leaving: np.ndarray,
    rng: np.random.Generator,
) -> Tickets:
    """New tickets caused in this month (some reactive ones are created early next month)."""
    rate = (
        0.05
        + 0.10 * pop.decaying[active]
        + 0.06 * (pop.pi_state[active] > 0.5)
        + 0.05 * (pop.fail_state[active] > 0.5)
    )
    per = rng.poisson(rate)
    bg_c = np.repeat(active, per)
    bg_t = rng.integers(t0, t1, len(bg_c))
    cat_p = np.asarray(CATEGORY_P)
    bg_cat = (rng.random(len(bg_c))[:, None] > np.cumsum(cat_p)[None, :]).sum(axis=1)
    fading = pop.decaying[bg_c] & (rng.random(len(bg_c)) < 0.4)
    bg_cat = np.where(fading, TECHNICAL, np.minimum(bg_cat, 3))
    bg_pri = rng.choice(4, size=len(bg_c), p=PRIORITY_P)

    rf = rng.random(len(fail_c)) < P_TICKET_AFTER_FAILURE
    f_c, f_t = fail_c[rf], fail_t[rf] + rng.integers(0, 3 * DAY, int(rf.sum()))
    rp = rng.random(len(price_c)) < P_TICKET_AFTER_PRICE
    p_c, p_t = price_c[rp], price_t[rp] + rng.integers(0, 5 * DAY, int(rp.sum()))
    n_react = len(f_c) + len(p_c)
    react_pri = rng.choice(4, size=n_react, p=REACTIVE_PRIORITY_P)

    rc = rng.random(len(leaving)) < P_TICKET_BEFORE_CANCEL
    c_c = leaving[rc]
    hi = pop.cancel[c_c] - HOUR  # cancellations fall after 08:00, so hi > t0
    lo = np.maximum(hi - 4 * DAY, t0)
    c_t = lo + (rng.random(len(c_c)) * (hi - lo)).astype(np.int64)

    cust = np.concatenate([bg_c, f_c, p_c, c_c])
    created = np.concatenate([bg_t, f_t, p_t, c_t])
    cat = np.concatenate(
        [bg_cat, np.full(n_react, BILLING), np.full(len(c_c), CANCELLATION)]
    ).astype(np.int8)
    pri = np.concatenate([bg_pri, react_pri, np.full(len(c_c), 2)]).astype(np.int8)
    return Tickets.new(rng, cust, created, cat, pri)


class TicketBook:
    """The tickets that still matter: not yet written, still open, or recently resolved."""

    def __init__(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        tiny = np.zeros(0, dtype=np.int8)
        self.live = Tickets(empty, empty, empty, tiny, tiny, tiny, empty)
        self.next_id = 1

    def add(self, new: Tickets) -> None:
        self.live = Tickets.concat([self.live, new])

    def pressure(self, t0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per customer at ``t0``: tickets open for over a week, tickets rated <= 2 lately."""
        lv = self.live
        unresolved = (lv.created < t0 - UNRESOLVED_AFTER) & (lv.resolved >= t0)
        angry = (lv.sat >= 1) & (lv.sat <= 2) & (lv.resolved < t0)
        angry &= lv.resolved >= t0 - ANGRY_WINDOW
        return (
            np.bincount(lv.cust[unresolved], minlength=n),
            np.bincount(lv.cust[angry], minlength=n),
        )

    def apply_cancellations(self, cancel: np.ndarray) -> None:
        """No ticket after a cancellation; open ones close at it, unscored."""
        lv = self.live
        limit = cancel[lv.cust]
        keep = lv.created <= limit
        lv, limit = lv.take(keep), limit[keep]
        late = lv.resolved > limit
        lv.resolved[late] = limit[late]
        lv.sat[late] = 0
        self.live = lv

    def month_lines(self, t0: int, t1: int) -> tuple[Tickets, np.ndarray]:
        """Ticket state changes dated in [t0, t1): (rows, is_resolution), by updated_at."""
        lv = self.live
        opened = np.flatnonzero((lv.created >= t0) & (lv.created < t1))
        opened = opened[np.lexsort((lv.cust[opened], lv.created[opened]))]
        lv.tid[opened] = np.arange(self.next_id, self.next_id + len(opened))
        self.next_id += len(opened)
        closed = np.flatnonzero((lv.resolved >= t0) & (lv.resolved < t1))
        rows = lv.take(np.concatenate([opened, closed]))
        is_res = np.r_[np.zeros(len(opened), np.bool_), np.ones(len(closed), np.bool_)]
        updated = np.where(is_res, rows.resolved, rows.created)
        order = np.lexsort((is_res, rows.tid, updated))
        return rows.take(order), is_res[order]

    def compact(self, t0: int) -> None:
        """Forget tickets resolved long enough ago to no longer matter."""
        lv = self.live
        self.live = lv.take((lv.resolved >= t0 - ANGRY_WINDOW - DAY) | (lv.tid < 0))
