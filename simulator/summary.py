"""What a simulation produced: counts for callers, the manifest and the CLI's table."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from simulator.config import SimConfig
from simulator.dirty import BILLING_KINDS, CRM_KINDS, HELPDESK_KINDS

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SimSummary:
    """Counts of one simulation. ``dirty`` maps source -> invalid-row kind -> rows injected."""

    out_dir: Path
    start: dt.datetime
    end: dt.datetime  # end of the simulated period (exclusive): no record is dated at or after it
    months: int
    customers: int  # every customer ever seen (initial base + signups)
    initial_customers: int
    active_at_end: int
    crm_rows: int  # all CRM rows written, dirty ones included
    billing_events: int  # all billing rows written, duplicates and dirty ones included
    billing_duplicates: int
    tickets: int  # distinct valid tickets opened
    helpdesk_lines: int  # all JSONL lines written, dirty ones included
    churned: int
    monthly_churn_rate: float
    oracle_auc: float  # true hazard at month start vs. cancellation within 30 days
    dirty: dict[str, dict[str, int]] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def dirty_total(self, source: str) -> int:
        return sum(self.dirty.get(source, {}).values())

    def manifest(
        self, config: SimConfig, files: dict[str, dict[str, int]], monthly: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The manifest.json document (deterministic: no timings, no absolute paths)."""
        kinds = {"crm": CRM_KINDS, "billing": BILLING_KINDS, "helpdesk": HELPDESK_KINDS}
        scenarios: dict[str, Any] = {"drift": None, "format_change": None}
        if config.drift_month is not None:
            scenarios["drift"] = {
                "month": config.drift_month,
                "month_label": monthly[config.drift_month - 1]["month"],
                "price_increase": config.drift_price_increase,
                "share": config.drift_share,
            }
        if config.format_change_month is not None:
            scenarios["format_change"] = {
                "month": config.format_change_month,
                "month_label": monthly[config.format_change_month - 1]["month"],
                "column": "monthly_charges",
                "renamed_to": "monthly_fee",
            }
        return {
            "manifest_version": MANIFEST_VERSION,
            "seed": config.seed,
            "customers": config.customers,
            "months": config.months,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "month_numbering": "1-based; month 1 starts at `start`",
            "config": config.model_dump(mode="json"),
            "scenarios": scenarios,
            "counts": {
                "customers": self.customers,
                "active_at_end": self.active_at_end,
                "churned": self.churned,
                "crm_rows": self.crm_rows,
                "billing_events": self.billing_events,
                "billing_duplicates": self.billing_duplicates,
                "tickets": self.tickets,
                "helpdesk_lines": self.helpdesk_lines,
            },
            "dirty": {s: {k: self.dirty.get(s, {}).get(k, 0) for k in kinds[s]} for s in kinds},
            "dirty_totals": {s: self.dirty_total(s) for s in kinds},
            "monthly_churn_rate": round(self.monthly_churn_rate, 6),
            "oracle_auc": None if math.isnan(self.oracle_auc) else round(self.oracle_auc, 6),
            "files": sorted(files),
            "file_stats": {k: files[k] for k in sorted(files)},
            "monthly": monthly,
        }

    def table(self) -> Table:
        t = Table(title=f"simulation {self.start:%Y-%m} .. {self.end:%Y-%m} → {self.out_dir}")
        t.add_column("what")
        t.add_column("value", justify="right")
        rows: list[tuple[str, str]] = [
            ("customers (initial + signups)", f"{self.customers:,} ({self.initial_customers:,})"),
            ("churned / active at end", f"{self.churned:,} / {self.active_at_end:,}"),
            ("mean monthly churn", f"{self.monthly_churn_rate:.2%}"),
            ("oracle ROC-AUC (hazard vs 30-day churn)", f"{self.oracle_auc:.3f}"),
            ("CRM rows", f"{self.crm_rows:,}"),
            (
                "billing events (duplicates)",
                f"{self.billing_events:,} ({self.billing_duplicates:,})",
            ),
            ("tickets / helpdesk lines", f"{self.tickets:,} / {self.helpdesk_lines:,}"),
        ]
        rows += [(f"dirty {s}", f"{self.dirty_total(s):,}") for s in ("crm", "billing", "helpdesk")]
        rows.append(("elapsed", f"{self.elapsed_s:.1f} s"))
        for name, value in rows:
            t.add_row(name, value)
        return t

    def __rich__(self) -> Table:
        return self.table()
