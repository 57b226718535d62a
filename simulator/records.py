"""Columnar batches of generated records (numeric; formatted to text only when written)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self

import numpy as np

from simulator.population import Population


@dataclass
class Columns:
    """Equal-length numpy columns; subclasses only declare them."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, sel: np.ndarray) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[sel] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        names = [f.name for f in fields(cls)]
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


@dataclass
class CrmRows(Columns):
    """Customer records *after* a change, as the CRM exports them."""

    cust: np.ndarray
    t: np.ndarray  # updated_at (s)
    status: np.ndarray  # 0 active, 1 cancelled
    plan: np.ndarray
    contract: np.ndarray
    pm: np.ndarray
    region: np.ndarray
    price: np.ndarray
    cancel: np.ndarray  # cancellation time (s) when status = 1

    @classmethod
    def snapshot(cls, pop: Population, cust: np.ndarray, t: np.ndarray, status: int) -> CrmRows:
        return cls(
            cust=cust.astype(np.int64),
            t=t.astype(np.int64),
            status=np.full(len(cust), status, dtype=np.int8),
            plan=pop.plan[cust].copy(),
            contract=pop.contract[cust].copy(),
            pm=pop.pm[cust].copy(),
            region=pop.region[cust].copy(),
            price=pop.price[cust].copy(),
            cancel=pop.cancel[cust].copy(),
        )


@dataclass
class Events(Columns):
    """Billing events."""

    cust: np.ndarray
    kind: np.ndarray  # index into EVENT_TYPES
    amount: np.ndarray  # cents
    t: np.ndarray  # created_at (s)
    final: np.ndarray  # refund on cancellation: allowed after the cancellation time (same day)

    @classmethod
    def empty(cls) -> Events:
        i64 = np.zeros(0, dtype=np.int64)
        return cls(i64, np.zeros(0, np.int8), i64, i64, np.zeros(0, np.bool_))

    @classmethod
    def make(
        cls, cust: np.ndarray, kind: int | np.ndarray, amount: np.ndarray, t: np.ndarray
    ) -> Events:
        n = len(cust)
        return cls(
            cust=cust.astype(np.int64),
            kind=np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy(),
            amount=amount.astype(np.int64),
            t=t.astype(np.int64),
            final=np.zeros(n, dtype=np.bool_),
        )
