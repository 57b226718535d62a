"""``python -m simulator``: write simulated source-system exports (docs/sources.md)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from core.cli import UsageError, run_cli
from simulator.config import SimConfig
from simulator.engine import simulate


def _parser() -> argparse.ArgumentParser:
    defaults = SimConfig()
    p = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Simulate a subscription business and write its CRM CSV exports, billing "
        "SQLite database, helpdesk JSONL files, manifest.json and ground truth (truth/). "
        "Same arguments, same bytes.",
    )
    p.add_argument("--customers", type=int, default=defaults.customers, help="initial base size")
    p.add_argument("--months", type=int, default=defaults.months, help="months to simulate")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=defaults.start,
        help="first day of month 1 (YYYY-MM-01)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: settings.sources_dir, i.e. $CHURN_HOME/sources)",
    )
    p.add_argument("--drift-month", type=int, default=None, help="1-based month of a price shock")
    p.add_argument(
        "--drift-price-increase",
        type=float,
        default=defaults.drift_price_increase,
        help="relative price increase of the shock (0.25 = +25%%)",
    )
    p.add_argument(
        "--drift-share",
        type=float,
        default=defaults.drift_share,
        help="share of active customers hit by the shock",
    )
    p.add_argument(
        "--format-change-month",
        type=int,
        default=None,
        help="1-based month from which the CRM column monthly_charges is named monthly_fee",
    )
    p.add_argument("--dirty-rate", type=float, default=defaults.dirty_rate)
    p.add_argument("--signup-rate", type=float, default=defaults.signup_rate)
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    return p


def _run(args: argparse.Namespace) -> int:
    try:
        config = SimConfig(
            customers=args.customers,
            months=args.months,
            seed=args.seed,
            start=args.start,
            drift_month=args.drift_month,
            drift_price_increase=args.drift_price_increase,
            drift_share=args.drift_share,
            format_change_month=args.format_change_month,
            dirty_rate=args.dirty_rate,
            signup_rate=args.signup_rate,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}"
            for e in exc.errors()
        )
        raise UsageError(problems) from None
    out = args.out
    if out is None:
        from core.settings import get_settings

        out = get_settings().sources_dir
    summary = simulate(config, out, progress=not args.quiet)
    if not args.quiet:
        Console().print(summary.table())
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: one-line errors, tracebacks with --verbose."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
