"""`make demo`: simulate the source systems, then run the ingest → build_features → train flows.

The flows report to one local Prefect server (started once, left running for its UI); the
MLflow store and the warehouse live under CHURN_HOME. Re-running the demo is safe: ingestion is
idempotent and the registry gate decides whether the new model becomes champion.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from rich.console import Console
from rich.panel import Panel

from core.settings import get_settings

console = Console()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=5000, help="initial customer base")
    parser.add_argument("--months", type=int, default=18, help="months of history to simulate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=4200, help="local Prefect server port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call is noise here
    settings = get_settings()
    started = time.perf_counter()

    from flows.server import ensure_server

    with console.status("starting / reusing the local Prefect server"):
        api_url = ensure_server(args.port)
    os.environ["PREFECT_API_URL"] = api_url  # before prefect is imported by the flows below
    # Our modules log through standard logging; forward them to the Prefect UI as well.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tasks,flows,models,simulator")
    console.print(f"Prefect API: {api_url}")

    from simulator import SimConfig, simulate

    console.rule("1/4 simulate source systems")
    config = SimConfig(customers=args.customers, months=args.months, seed=args.seed)
    summary = simulate(config, settings.sources_dir, progress=True)
    console.print(summary)

    from flows.build_features import build_features
    from flows.ingest import ingest
    from flows.train import train

    console.rule("2/4 ingest (flow: ingest)")
    console.print(ingest())
    console.rule("3/4 build features (flow: build_features)")
    console.print(build_features())
    console.rule("4/4 train, evaluate, register, gate (flow: train)")
    result = train()
    console.print(result)
    from tasks.deploy import build_bento, champion_version

    bento = build_bento(champion_version())  # built by train on a promotion; reused here

    ui = api_url.removesuffix("/api")
    console.print(
        Panel.fit(
            f"Done in {time.perf_counter() - started:.0f} s.\n"
            f"Prefect UI: {ui}  (flow runs + artifacts; `make stop` stops the server)\n"
            f"MLflow UI:  make mlflow-ui  → http://127.0.0.1:5000  (runs, plots, model registry)\n"
            f"Bento:      {bento.tag} (champion v{bento.model.model_version}, {bento.dockerfile})\n"
            f"Serve it:   make serve  → curl -XPOST http://127.0.0.1:3000/predict "
            f"-H 'content-type: application/json' -d '{{\"customer_ids\": [\"C1000001\"]}}'\n"
            f"Warehouse:  {settings.database_url}\n"
            f"State:      {settings.home.resolve()}",
            title="churn demo",
        )
    )


if __name__ == "__main__":
    main()
