"""Formatting generated records into the source systems' formats (docs/sources.md) and writing
them: CRM CSV, the billing SQLite database, helpdesk JSONL, ground truth (parquet), manifest."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.config import (
    CATEGORIES,
    CONTRACTS,
    CRM_COLUMNS,
    EVENT_TYPES,
    PAYMENT_METHODS,
    PLANS,
    PRIORITIES,
    REGIONS,
    STATUSES,
)
from simulator.dirty import ticket_ref
from simulator.helpdesk import Tickets
from simulator.population import Population
from simulator.records import CrmRows, Events
from simulator.timeutil import DAY, NEVER, iso_dates, iso_seconds, numbered

TRUTH_MONTHS = "truth/customer_months.parquet"
TRUTH_CUSTOMERS = "truth/customers.parquet"
LABEL_DAYS = 30


def cents_text(cents: np.ndarray) -> list[str]:
    return [f"{v // 100}.{v % 100:02d}" for v in cents.tolist()]


def crm_text(pop: Population, rows: CrmRows) -> list[list[str]]:
    """CRM rows as text, in the column order of CRM_COLUMNS."""
    cancelled = rows.status == 1
    cancel_date = np.where(cancelled, iso_dates(np.where(cancelled, rows.cancel, 0)), "")
    cols = [
        pop.ids(rows.cust),
        iso_dates(pop.signup[rows.cust]).tolist(),
        np.asarray(PLANS)[rows.plan].tolist(),
        np.asarray(CONTRACTS)[rows.contract].tolist(),
        np.asarray(PAYMENT_METHODS)[rows.pm].tolist(),
        np.asarray(REGIONS)[rows.region].tolist(),
        cents_text(rows.price),
        np.asarray(STATUSES)[rows.status].tolist(),
        cancel_date.tolist(),
        iso_seconds(rows.t).tolist(),
    ]
    return [list(r) for r in zip(*cols, strict=True)]


def write_crm(path: Path, rows: list[list[str]], charges_column: str) -> None:
    header = [charges_column if c == "monthly_charges" else c for c in CRM_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def billing_rows(pop: Population, ev: Events, first_ref: int) -> list[tuple[Any, ...]]:
    """(txn_ref, account_id, event_type, amount_cents, currency, created_at) tuples."""
    refs = numbered("TXN", np.arange(first_ref, first_ref + len(ev)), 10).tolist()
    return list(
        zip(
            refs,
            pop.ids(ev.cust),
            np.asarray(EVENT_TYPES)[ev.kind].tolist(),
            ev.amount.tolist(),
            ["USD"] * len(ev),
            iso_seconds(ev.t, " ").tolist(),
            strict=True,
        )
    )


def with_duplicates(
    rows: list[tuple[Any, ...]], rate: float, rng: np.random.Generator
) -> tuple[list[tuple[Any, ...]], int]:
    """The legacy system writes some events twice (identical row, a few rows later)."""
    n = len(rows)
    k = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    if not k:
        return rows, 0
    src = rng.integers(0, n, k)
    at = np.minimum(src + rng.integers(1, 6, k), n)
    order = np.argsort(at, kind="stable")
    out: list[tuple[Any, ...]] = []
    prev = 0
    for j in order.tolist():
        pos = int(at[j])
        out.extend(rows[prev:pos])
        out.append(rows[int(src[j])])
        prev = pos
    out.extend(rows[prev:])
    return out, k


class BillingDb:
    """The billing system's own SQLite database; one transaction per simulated month."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA journal_mode=MEMORY")
        self.conn.execute(
            "CREATE TABLE billing_events (id INTEGER PRIMARY KEY, txn_ref TEXT, account_id TEXT,"
            " event_type TEXT, amount_cents INTEGER, currency TEXT, created_at TEXT)"
        )
        self.conn.commit()

    def write_month(self, rows: list[tuple[Any, ...]], chunk: int = 100_000) -> None:
        sql = (
            "INSERT INTO billing_events (txn_ref, account_id, event_type, amount_cents,"
            " currency, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        with self.conn:
            for i in range(0, len(rows), chunk):
                self.conn.executemany(sql, rows[i : i + chunk])

    def close(self) -> None:
        self.conn.execute(
            "CREATE INDEX ix_billing_events_created_at ON billing_events (created_at)"
        )
        self.conn.commit()
        self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.close()


def helpdesk_dicts(pop: Population, tk: Tickets, is_res: np.ndarray) -> list[dict[str, Any]]:
    """Ticket state changes as JSON-ready dicts (field order of HELPDESK_FIELDS)."""
    created = iso_seconds(tk.created).tolist()
    resolved = iso_seconds(np.where(is_res, tk.resolved, 0)).tolist()
    out: list[dict[str, Any]] = []
    for tid, cust, cre, res, flag, cat, pri, sat in zip(
        tk.tid.tolist(),
        pop.ids(tk.cust),
        created,
        resolved,
        is_res.tolist(),
        np.asarray(CATEGORIES)[tk.cat].tolist(),
        np.asarray(PRIORITIES)[tk.pri].tolist(),
        tk.sat.tolist(),
        strict=True,
    ):
        out.append(
            {
                "ticket_id": ticket_ref(tid),
                "customer_id": cust,
                "created_at": cre,
                "updated_at": res if flag else cre,
                "status": "resolved" if flag else "open",
                "category": cat,
                "priority": pri,
                "resolved_at": res if flag else None,
                "satisfaction": (sat or None) if flag else None,
            }
        )
    return out


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")


class TruthWriter:
    """Per customer-month ground truth: hazard at the month start, churn within 30 days."""

    def __init__(self, path: Path, components: tuple[str, ...]) -> None:
        self.components = components
        fields = [
            pa.field("customer_id", pa.string()),
            pa.field("month_start", pa.date32()),
            pa.field("hazard", pa.float64()),
            pa.field("churned_next_30d", pa.bool_()),
        ] + [pa.field(f"logit_{c}", pa.float32()) for c in components]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.pending: tuple[int, np.ndarray, np.ndarray, dict[str, np.ndarray]] | None = None
        self.scores: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def stage(
        self, t0: int, active: np.ndarray, hazard: np.ndarray, parts: dict[str, np.ndarray]
    ) -> None:
        self.pending = (t0, active, hazard, parts)

    def flush(self, pop: Population) -> None:
        """Write the staged month; call once cancellations up to 30 days after it are known."""
        if self.pending is None:
            return
        t0, active, hazard, parts = self.pending
        cancel = pop.cancel[active]
        label = (cancel >= t0) & (cancel < t0 + LABEL_DAYS * DAY)
        day = np.full(len(active), t0 // DAY, dtype=np.int32)
        cols: list[pa.Array] = [
            pa.array(pop.ids(active), pa.string()),
            pa.array(day, pa.int32()).cast(pa.date32()),
            pa.array(hazard, pa.float64()),
            pa.array(label, pa.bool_()),
        ] + [pa.array(parts[c].astype(np.float32), pa.float32()) for c in self.components]
        self.writer.write_table(pa.Table.from_arrays(cols, schema=self.schema))
        self.scores.append(hazard)
        self.labels.append(label)
        self.pending = None

    def close(self, pop: Population) -> None:
        self.flush(pop)
        self.writer.close()


def write_customer_truth(path: Path, pop: Population) -> None:
    idx = np.arange(pop.n)
    cancelled = pop.cancel[idx] != NEVER
    table = pa.table(
        {
            "customer_id": pa.array(pop.ids(idx), pa.string()),
            "signup_at": pa.array(pop.signup[idx], pa.timestamp("s")),
            "cancel_at": pa.array(pop.cancel[idx], pa.timestamp("s"), mask=~cancelled),
            "initial_base": pa.array(pop.initial[idx]),
            "drift_hit": pa.array(pop.drift_hit[idx]),
            "frailty": pa.array(pop.frailty[idx].astype(np.float32)),
            "payment_stress": pa.array(pop.stress[idx].astype(np.float32)),
            "usage_fading_at_end": pa.array(pop.decaying[idx]),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
