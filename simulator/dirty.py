"""Invalid rows, as real source systems produce them, so that quarantine has work to do.

Each source gets about ``dirty_rate`` invalid rows per valid row, each invalid in exactly one way
and each an *extra* row (a corrupted copy of a real row next to it, with its own key where the
source has one), so the valid data stay complete. Counts per kind go to the manifest.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from simulator.timeutil import iso_seconds, malformed

CRM_KINDS = (
    "bad_enum",
    "negative_charges",
    "non_numeric_charges",
    "missing_customer_id",
    "malformed_timestamp",
    "cancelled_without_cancel_date",
)
BILLING_KINDS = (
    "bad_event_type",
    "negative_amount",
    "non_numeric_amount",
    "missing_account_id",
    "malformed_timestamp",
)
HELPDESK_KINDS = (
    "malformed_json",
    "satisfaction_out_of_range",
    "bad_enum",
    "missing_customer_id",
    "malformed_timestamp",
)
_CRM_BAD_ENUM = ((2, "platinum"), (3, "monthly"), (4, "crypto"), (5, "central"), (7, "paused"))
_HELPDESK_BAD_ENUM = (
    ("category", "refund_request"),
    ("priority", "critical"),
    ("status", "pending"),
)


def _pick(rng: np.random.Generator, n_rows: int, rate: float, kinds: tuple[str, ...]) -> list:
    """(source row, kind) of the invalid rows to add, by source row."""
    if n_rows == 0 or rate <= 0:
        return []
    k = int(rng.binomial(n_rows, rate))
    src = np.sort(rng.integers(0, n_rows, k))
    kind = rng.integers(0, len(kinds), k)
    return [(int(s), kinds[int(j)]) for s, j in zip(src, kind, strict=True)]


def _splice(rows: list[Any], extra: list[tuple[int, Any]]) -> list[Any]:
    """Insert each extra row right after its source row."""
    if not extra:
        return rows
    out: list[Any] = []
    prev = 0
    for src, row in extra:
        out.extend(rows[prev : src + 1])
        out.append(row)
        prev = src + 1
    out.extend(rows[prev:])
    return out


def dirty_crm(
    rows: list[list[str]],
    times: np.ndarray,
    t0: int,
    t1: int,
    rate: float,
    rng: np.random.Generator,
) -> tuple[list[list[str]], Counter[str]]:
    """CRM rows (column order of CRM_COLUMNS) with invalid copies spliced in."""
    plan = _pick(rng, len(rows), rate, CRM_KINDS)
    extra: list[tuple[int, list[str]]] = []
    counts: Counter[str] = Counter()
    for src, kind in plan:
        row = list(rows[src])
        shift = int(rng.integers(1, 600))
        t = int(times[src]) + shift if int(times[src]) + shift < t1 else int(times[src]) - shift
        row[9] = str(iso_seconds(np.asarray([max(t, t0)]))[0])
        if kind == "bad_enum":
            col, value = _CRM_BAD_ENUM[int(rng.integers(len(_CRM_BAD_ENUM)))]
            row[col] = value
            if col == 7:
                row[8] = ""
        elif kind == "negative_charges":
            row[6] = "-" + row[6]
        elif kind == "non_numeric_charges":
            row[6] = ("#VALUE!", "unknown", "12,5O")[int(rng.integers(3))]
        elif kind == "missing_customer_id":
            row[0] = ""
        elif kind == "malformed_timestamp":
            row[9] = malformed(t0, "T")
        else:  # cancelled_without_cancel_date
            row[7], row[8] = "cancelled", ""
        extra.append((src, row))
        counts[kind] += 1
    return _splice(rows, extra), counts


def dirty_billing(
    rows: list[tuple[Any, ...]],
    t0: int,
    rate: float,
    next_ref: int,
    rng: np.random.Generator,
) -> tuple[list[tuple[Any, ...]], Counter[str], int]:
    """Billing rows (txn_ref, account_id, event_type, amount_cents, currency, created_at) with
    invalid ones spliced in; each invalid row has a fresh txn_ref. Returns the next free ref."""
    plan = _pick(rng, len(rows), rate, BILLING_KINDS)
    extra: list[tuple[int, tuple[Any, ...]]] = []
    counts: Counter[str] = Counter()
    for src, kind in plan:
        _, account, etype, amount, currency, created = rows[src]
        ref = txn_ref(next_ref)
        next_ref += 1
        if kind == "bad_event_type":
            etype = ("chargeback", "adjustment", "void")[int(rng.integers(3))]
        elif kind == "negative_amount":
            amount = -max(int(amount), 1)
        elif kind == "non_numeric_amount":
            amount = ("n/a", "12O0", "1,299")[int(rng.integers(3))]
        elif kind == "missing_account_id":
            account = None if rng.random() < 0.5 else ""
        else:  # malformed_timestamp
            created = malformed(t0, " ")
        extra.append((src, (ref, account, etype, amount, currency, created)))
        counts[kind] += 1
    return _splice(rows, extra), counts, next_ref


def dirty_helpdesk(
    lines: list[dict[str, Any]],
    t0: int,
    rate: float,
    next_id: int,
    rng: np.random.Generator,
) -> tuple[list[str], Counter[str], int]:
    """JSONL lines of the month's ticket records with invalid ones spliced in (fresh ticket ids).
    Returns the lines, the counts and the next free ticket number."""
    plan = _pick(rng, len(lines), rate, HELPDESK_KINDS)
    text = [json.dumps(d) for d in lines]
    extra: list[tuple[int, str]] = []
    counts: Counter[str] = Counter()
    for src, kind in plan:
        d = dict(lines[src])
        d["ticket_id"] = ticket_ref(next_id)
        next_id += 1
        if kind == "malformed_json":
            full = json.dumps(d)
            extra.append((src, full[: int(len(full) * rng.uniform(0.3, 0.9))]))
            counts[kind] += 1
            continue
        if kind == "satisfaction_out_of_range":
            d["status"], d["resolved_at"] = "resolved", d["updated_at"]
            d["satisfaction"] = (-1, 6, 7, 10)[int(rng.integers(4))]
        elif kind == "bad_enum":
            key, value = _HELPDESK_BAD_ENUM[int(rng.integers(len(_HELPDESK_BAD_ENUM)))]
            d[key] = value
        elif kind == "missing_customer_id":
            if rng.random() < 0.5:
                d["customer_id"] = None
            else:
                del d["customer_id"]
        else:  # malformed_timestamp
            d["created_at"] = malformed(t0, "T")
        extra.append((src, json.dumps(d)))
        counts[kind] += 1
    return _splice(text, extra), counts, next_id


def txn_ref(n: int) -> str:
    return f"TXN{n:010d}"


def ticket_ref(n: int) -> str:
    return f"T{n:08d}"
