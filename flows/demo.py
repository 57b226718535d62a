"""`make demo`: simulate the sources, then run the ingest → build_features → train → monitor flows.

The flows report to one local Prefect server (started once, left running for its UI); the
MLflow store and the warehouse live under CHURN_HOME and are set up once, under a lock, before
any flow runs. Re-running the demo is safe: ingestion is idempotent and the registry gate decides
whether the new model becomes champion.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel

from core.cli import UsageError, run_cli
from core.settings import get_settings
from core.stores import prepare_stores
from simulator.config import SimConfig

console = Console()


def _sim_option(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    """``--name`` for a SimConfig field: left out, SimConfig's own default (shown) applies."""
    field = SimConfig.model_fields[name]
    parser.add_argument(
        f"--{name}",
        type=int,
        default=argparse.SUPPRESS,
        help=f"{help} (default: {field.default})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.demo",
        description="Simulate sources, ingest, build features, train and gate, on a local "
        "Prefect server.",
    )
    _sim_option(parser, "customers", "initial customer base")
    _sim_option(parser, "months", "months of history")
    _sim_option(parser, "seed", "simulation seed")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of this home's Prefect server when it is started (default: PREFECT_PORT, 4200)",
    )
    return parser


def sim_config(args: argparse.Namespace) -> SimConfig:
    """The simulation the options ask for; UsageError naming each option out of range."""
    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k in SimConfig.model_fields}
    try:
        return SimConfig(**given)
    except ValidationError as exc:
        problems = "; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise UsageError(problems) from None


def _run(args: argparse.Namespace) -> int:
    config = sim_config(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call is noise here
    settings = get_settings()
    started = time.perf_counter()

    with console.status("setting up the warehouse and the MLflow store"):
        prepare_stores(settings)

    from ops.server import ensure_server, prefect_env

    # every tool's home under CHURN_HOME (flow results, not ~/.prefect), before prefect is imported
    for key, value in prefect_env(settings).items():
        os.environ.setdefault(key, value)

    with console.status("starting / reusing this CHURN_HOME's Prefect server"):
        api_url = ensure_server(args.port)
    os.environ["PREFECT_API_URL"] = api_url  # before prefect is imported by the flows below
    # Our modules log through standard logging; forward them to the Prefect UI as well.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tasks,flows,models,simulator")
    console.print(f"Prefect API: {api_url}")

    from ops.automations import ensure_crash_automation

    ensure_crash_automation()

    from simulator import simulate

    console.rule("1/5 simulate source systems")
    summary = simulate(config, settings.sources_dir, progress=True)
    console.print(summary)

    bento = train_first_champion()

    ui = api_url.removesuffix("/api")
    console.print(
        Panel.fit(
            f"Done in {time.perf_counter() - started:.0f} s.\n"
            f"Prefect UI: {ui}  (flow runs + artifacts; `make stop` stops the server)\n"
            f"MLflow UI:  make mlflow-ui  → {settings.mlflow_ui_url}  (runs, plots, registry)\n"
            f"Platform:   make up && make deploy  (server, worker, UIs; `make down` stops them)\n"
            f"Bento:      {bento.tag} (champion v{bento.model.model_version}, {bento.dockerfile})\n"
            f"Serve it:   make serve  → curl -XPOST http://127.0.0.1:3000/predict "
            f"-H 'content-type: application/json' -d '{{\"customer_ids\": [\"C1000001\"]}}'\n"
            f"Evidently:  make evidently-ui → {settings.evidently_ui_url} ({settings.model_name})\n"
            f"Reports:    {settings.reports_dir / 'index.html'}\n"
            f"Warehouse:  {settings.database_url}\n"
            f"State:      {settings.home.resolve()}",
            title="churn demo",
        )
    )
    return 0


def train_first_champion() -> Any:
    """The demo's path to a champion on the sources already there: ingest → build_features →
    train + gate → the champion's bento → monitor with two backfilled cutoffs; the bento."""
    from flows.build_features import build_features
    from flows.ingest import ingest
    from flows.monitor import monitor
    from flows.train import train
    from ops.cli import run_flow
    from tasks.deploy import build_bento, champion_version

    console.rule("2/5 ingest (flow: ingest)")
    console.print(run_flow(ingest, {}))
    console.rule("3/5 build features (flow: build_features)")
    console.print(run_flow(build_features, {}))
    console.rule("4/5 train, evaluate, register, gate (flow: train)")
    console.print(run_flow(train, {}))
    bento = build_bento(champion_version())  # built by train on a promotion; reused here
    console.rule(
        "5/5 monitor: drift, quality, performance on backfilled predictions (flow: monitor)"
    )
    console.print(run_flow(monitor, {"backfill_cutoffs": 2}))
    return bento


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``make demo``)."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
