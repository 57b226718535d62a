"""The month loop: evolve the customer base, write each source system's month of records.

Each month: memories of price increases and failed payments age; the churn hazard of every
active customer is fixed and cancellations are drawn; usage drifts; CRM changes, signups, billing
and tickets happen; then the month's CRM export, billing transaction and helpdesk file are
written (invalid rows spliced in) and the previous month's ground truth is completed.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from simulator import billing, dirty, dynamics, helpdesk, population
from simulator.config import CRM_RENAMED_CHARGES, SimConfig
from simulator.metrics import roc_auc
from simulator.records import CrmRows, Events
from simulator.summary import SimSummary
from simulator.timeutil import month_label, month_starts, to_datetime
from simulator.writers import (
    TRUTH_CUSTOMERS,
    TRUTH_MONTHS,
    BillingDb,
    TruthWriter,
    billing_rows,
    crm_text,
    helpdesk_dicts,
    with_duplicates,
    write_crm,
    write_customer_truth,
    write_lines,
    write_manifest,
)

OUTPUTS = ("crm", "billing", "helpdesk", "truth", "manifest.json")
BILLING_DB = "billing/billing.db"
SOURCES = ("crm", "billing", "helpdesk")


def _prepare(out_dir: Path) -> None:
    """Remove a previous simulation's outputs (and nothing else), create the folders."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for name in OUTPUTS[:-1]:
        (out_dir / name).mkdir()


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress("[progress.description]{task.description}", *columns) as bar:
        yield (bar, bar.add_task("simulating", total=total))


class _Simulation:
    """State of one run: the population, open tickets, pending billing events, counters."""

    def __init__(self, config: SimConfig, out_dir: Path) -> None:
        self.config, self.out = config, out_dir
        seeds = np.random.SeedSequence(config.seed).spawn(7)
        rngs = [np.random.default_rng(s) for s in seeds]
        self.pop_rng, self.dyn_rng, self.bill_rng, self.desk_rng = rngs[:4]
        self.dirty_rng, self.drift_rng, self.dup_rng = rngs[4:]
        self.bounds = month_starts(config.start, config.months)
        self.end = int(self.bounds[-1])
        capacity = int(config.customers * (1 + config.signup_rate * 1.2) ** config.months) + 64
        self.pop = population.initial_base(
            self.pop_rng, config.customers, int(self.bounds[0]), capacity
        )
        self.book = helpdesk.TicketBook()
        self.db = BillingDb(out_dir / BILLING_DB)
        self.truth = TruthWriter(out_dir / TRUTH_MONTHS, dynamics.COMPONENTS)
        self.pending = Events.empty()  # billing events dated after the current month
        self.next_ref = 1
        self.files: dict[str, dict[str, int]] = {}
        self.dirty: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
        self.totals: Counter[str] = Counter()
        self.monthly: list[dict[str, Any]] = []

    def month(self, m: int) -> None:
        cfg, pop, book = self.config, self.pop, self.book
        t0, t1 = int(self.bounds[m]), int(self.bounds[m + 1])
        # month start: memories age, the hazard is fixed, cancellations are drawn
        dynamics.roll_month(pop)
        active = dynamics.active_at(pop, t0)
        unresolved, angry = book.pressure(t0, pop.n)
        hz, parts = dynamics.hazard(pop, active, t0, unresolved, angry, self.dyn_rng)
        leaving = active[self.dyn_rng.random(len(active)) < hz]
        pop.cancel[leaving] = dynamics.cancel_times(self.dyn_rng, len(leaving), t0, t1)
        self.truth.flush(pop)  # the previous month's 30-day window is now known
        self.truth.stage(t0, active, hz, parts)
        base = None
        if m == 0:  # the first export also holds the base as it stood at the start
            idx = np.flatnonzero(pop.initial[: pop.n])
            base = CrmRows.snapshot(pop, idx, pop.signup[idx], status=0)

        # the month's behaviour
        dynamics.evolve_usage(pop, active, self.dyn_rng)
        bill_t = billing.bill_times(pop, active, t0)
        drift = None
        if cfg.drift_month == m + 1:
            drift = dynamics.Drift(cfg.drift_price_increase, cfg.drift_share)
        changes, price_at_bill, pi_pos, pi_t = dynamics.crm_changes(
            pop, active, t0, t1, bill_t, self.dyn_rng, self.drift_rng, drift
        )
        k_new = int(self.pop_rng.poisson(cfg.signup_rate * len(active)))
        new = population.signups(self.pop_rng, pop, k_new, t0, t1)
        events, fail_c, fail_t = billing.month_billing(
            pop, active, t1, bill_t, price_at_bill, self.bill_rng
        )
        refunds = billing.final_refunds(pop, leaving, t0, self.bill_rng)
        tickets = helpdesk.month_tickets(
            pop, active, t0, t1, fail_c, fail_t, active[pi_pos], pi_t, leaving, self.desk_rng
        )
        book.add(tickets)
        book.apply_cancellations(pop.cancel)

        signup_rows = CrmRows.snapshot(pop, new, pop.signup[new], status=0)
        crm = CrmRows.concat([r for r in (base, signup_rows, changes) if r is not None])
        n_crm = self._write_crm(m, t0, t1, crm)
        n_billing = self._write_billing(t0, t1, Events.concat([events, refunds]))
        n_desk = self._write_helpdesk(t0, t1)
        self.totals["churned"] += len(leaving)
        self.monthly.append(
            {
                "month": month_label(t0),
                "active_at_start": len(active),
                "signups": len(new),
                "cancelled": len(leaving),
                "churn_rate": round(len(leaving) / max(len(active), 1), 5),
                "mean_hazard": round(float(hz.mean()) if len(hz) else 0.0, 5),
                "crm_rows": n_crm,
                "billing_rows": n_billing,
                "helpdesk_lines": n_desk,
            }
        )

    def _record(self, source: str, name: str | None, rows: int, bad: Counter[str]) -> None:
        self.dirty[source] += bad
        if name is not None:
            self.files[name] = {"rows": rows, "dirty": sum(bad.values())}

    def _write_crm(self, m: int, t0: int, t1: int, rows: CrmRows) -> int:
        cfg = self.config
        rows = rows.take(np.lexsort((rows.status, rows.cust, rows.t)))
        text, bad = dirty.dirty_crm(
            crm_text(self.pop, rows), rows.t, t0, t1, cfg.dirty_rate, self.dirty_rng
        )
        renamed = cfg.format_change_month is not None and m + 1 >= cfg.format_change_month
        name = f"crm/customers_{month_label(t0)}.csv"
        write_crm(self.out / name, text, CRM_RENAMED_CHARGES if renamed else "monthly_charges")
        self._record("crm", name, len(text), bad)
        self.totals["crm_rows"] += len(text)
        return len(text)

    def _write_billing(self, t0: int, t1: int, new: Events) -> int:
        """One transaction with the events dated in [t0, t1); later ones wait in ``pending``."""
        cfg, pop = self.config, self.pop
        ev = Events.concat([self.pending, new])
        alive = ev.final | (ev.t <= pop.cancel[ev.cust])  # nothing after a cancellation
        ev = ev.take(alive & (ev.t < self.end))
        now = ev.t < t1
        self.pending, ev = ev.take(~now), ev.take(now)
        ev = ev.take(np.lexsort((ev.cust, ev.kind, ev.t)))
        rows = billing_rows(pop, ev, self.next_ref)
        self.next_ref += len(rows)
        rows, dups = with_duplicates(rows, cfg.duplicate_rate, self.dup_rng)
        rows, bad, self.next_ref = dirty.dirty_billing(
            rows, t0, cfg.dirty_rate, self.next_ref, self.dirty_rng
        )
        self.db.write_month(rows)
        self._record("billing", None, len(rows), bad)
        self.totals["billing_events"] += len(rows)
        self.totals["billing_duplicates"] += dups
        return len(rows)

    def _write_helpdesk(self, t0: int, t1: int) -> int:
        book = self.book
        tk, is_res = book.month_lines(t0, t1)
        lines, bad, book.next_id = dirty.dirty_helpdesk(
            helpdesk_dicts(self.pop, tk, is_res),
            t0,
            self.config.dirty_rate,
            book.next_id,
            self.dirty_rng,
        )
        name = f"helpdesk/tickets_{month_label(t0)}.jsonl"
        write_lines(self.out / name, lines)
        self._record("helpdesk", name, len(lines), bad)
        self.totals["tickets"] += int((~is_res).sum())
        self.totals["helpdesk_lines"] += len(lines)
        book.compact(t0)
        return len(lines)

    def finish(self, started: float) -> SimSummary:
        pop, totals = self.pop, self.totals
        self.db.close()
        self.files[BILLING_DB] = {
            "rows": totals["billing_events"],
            "dirty": sum(self.dirty["billing"].values()),
        }
        self.truth.close(pop)
        write_customer_truth(self.out / TRUTH_CUSTOMERS, pop)
        scores, labels = np.concatenate(self.truth.scores), np.concatenate(self.truth.labels)
        self.files[TRUTH_MONTHS] = {"rows": len(scores), "dirty": 0}
        self.files[TRUTH_CUSTOMERS] = {"rows": pop.n, "dirty": 0}
        summary = SimSummary(
            out_dir=self.out,
            start=to_datetime(int(self.bounds[0])),
            end=to_datetime(self.end),
            months=self.config.months,
            customers=pop.n,
            initial_customers=self.config.customers,
            active_at_end=int((pop.cancel[: pop.n] >= self.end).sum()),
            crm_rows=totals["crm_rows"],
            billing_events=totals["billing_events"],
            billing_duplicates=totals["billing_duplicates"],
            tickets=totals["tickets"],
            helpdesk_lines=totals["helpdesk_lines"],
            churned=totals["churned"],
            monthly_churn_rate=float(np.mean([r["churn_rate"] for r in self.monthly])),
            oracle_auc=roc_auc(scores, labels),
            dirty={s: dict(sorted(c.items())) for s, c in self.dirty.items()},
            elapsed_s=time.perf_counter() - started,
        )
        manifest = summary.manifest(self.config, self.files, self.monthly)
        write_manifest(self.out / "manifest.json", manifest)  # last: marks a complete run
        return summary


def simulate(config: SimConfig, out_dir: Path, *, progress: bool = False) -> SimSummary:
    """Simulate ``config.months`` months of the business and write every source under out_dir.

    A previous simulation's outputs in ``out_dir`` are replaced; other files are left alone.
    The same config always produces byte-identical files.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _prepare(out_dir)
    sim = _Simulation(config, out_dir)
    with _progress(progress, config.months) as bar:
        for m in range(config.months):
            sim.month(m)
            if bar is not None:
                bar[0].update(
                    bar[1], advance=1, description=f"simulating {month_label(sim.bounds[m])}"
                )
    return sim.finish(started)
