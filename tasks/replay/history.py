"""Where a replay starts: its simulated history, and the home's state at the replay's start.

The history and the months ahead are simulated once into ``$CHURN_HOME/replay/history``; the
first ``history_months`` of it are byte for byte what the demo's simulation of that many months
with the same seed and customers writes (the month loop draws the same numbers), so a replay
continues that world. A home already past the replay's start, or whose champion was chosen on
the wall clock (a plain ``make demo``), cannot be replayed deterministically: use a fresh
CHURN_HOME, where the replay runs the demo's path itself under the simulated clock.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from core.cli import UsageError
from core.clock import set_clock
from core.db import make_engine
from core.names import TAG_GATE_DECIDED_AT
from core.settings import get_settings
from simulator import simulate
from simulator.config import SimConfig
from simulator.reveal import reveal
from simulator.timeutil import month_starts, to_datetime

PROBE_CUSTOMER = "C1000001"  # any id: the API answers an unknown one with its model version too


@dataclass(frozen=True)
class ReplayPlan:
    history: Path
    start: datetime  # end of the history: the first champion's time
    end: datetime
    drift_from: datetime
    needs_champion: bool
    probe_id: str = PROBE_CUSTOMER


def prepare_history(args: argparse.Namespace, *, home: Path, console: Console) -> ReplayPlan:
    """Simulate the history and the months ahead; put the home at the replay's start."""
    try:
        config = SimConfig(
            customers=args.customers,
            months=args.history_months + args.months,
            seed=args.seed,
            drift_month=args.history_months + args.drift_month,
        )
    except ValidationError as exc:
        raise UsageError("; ".join(str(e["msg"]) for e in exc.errors())) from None
    if not 1 <= args.drift_month <= args.months:
        raise UsageError(f"--drift-month {args.drift_month} is not in 1..{args.months}")
    bounds = [to_datetime(b) for b in month_starts(config.start, config.months)]
    start, end = bounds[args.history_months], bounds[-1]
    drift_from = bounds[args.history_months + args.drift_month - 1]
    history = home / "replay" / "history"
    console.rule(f"simulating {config.months} months once (seed {config.seed})")
    simulate(config, history, progress=True)
    _refuse_later_home(start)
    needs_champion = not _champion_before(start)
    if needs_champion:
        reveal(history, get_settings().sources_dir, start)
    set_clock(start)
    return ReplayPlan(history, start, end, drift_from, needs_champion)


def _refuse_later_home(start: datetime) -> None:
    from tasks.features.population import data_watermark

    watermark = data_watermark(engine=make_engine(get_settings().database_url))
    if watermark is not None and watermark > start:
        raise UsageError(
            f"this CHURN_HOME holds data up to {watermark}, after the replay's start {start}"
            " (a replay or a longer demo ran here); replay in a fresh home, e.g."
            " make replay CHURN_HOME=.churn-replay"
        )


def _champion_before(start: datetime) -> bool:
    """Whether a champion exists; UsageError when its gate decided after ``start``."""
    from tasks.deploy import champion_version
    from tasks.registry import registry_client

    try:
        version = champion_version()
    except RuntimeError:
        return False
    tags = registry_client().get_model_version(get_settings().model_name, version).tags or {}
    decided = tags.get(TAG_GATE_DECIDED_AT)
    if decided is None or datetime.fromisoformat(decided) > start:
        raise UsageError(
            f"champion v{version} was chosen at {decided} on the wall clock, after the replay's"
            f" start {start}: its cooldown would never end in simulated time; replay in a fresh"
            " home (make replay CHURN_HOME=.churn-replay), which trains its own first champion"
        )
    return True
