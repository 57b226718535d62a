"""Prefect flow ``build_features``: materialize the online feature store and report on it.

``as_of`` defaults to the warehouse's data watermark (the time up to which every source has
delivered data); a given ``as_of`` must not be in the future. Publishes a markdown artifact (row
count, freshness) and a table artifact (null rate per feature).
CLI: ``python -m flows.build_features --help``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from prefect import flow
from rich.console import Console

from core.cli import run_cli
from ops.cli import flow_option, flow_parameters, run_flow
from ops.params import PastMoment
from tasks.features.steps import materialize_online_store, publish_feature_report, resolve_as_of
from tasks.stores import prepare_stores_task


@flow(name="build_features")
def build_features(as_of: PastMoment | None = None) -> dict[str, Any]:
    """Materialize every active customer's features at ``as_of`` (default: data watermark)."""
    prepare_stores_task(tracking=False)
    moment = resolve_as_of(as_of)
    result = materialize_online_store(moment)
    publish_feature_report(result)
    return {
        "rows": result.rows,
        "as_of": result.as_of.isoformat(),
        "definitions_hash": result.definitions_hash,
        "seconds": round(result.seconds, 2),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.build_features",
        description="Materialize the online feature store as of the data watermark.",
    )
    flow_option(
        parser,
        build_features,
        "as_of",
        type=datetime.fromisoformat,
        help="naive UTC moment, e.g. 2024-12-01T00:00:00",
        when_none="the data watermark",
    )
    return parser


def _run(args: argparse.Namespace) -> int:
    console = Console()
    with console.status("materializing the online feature store"):
        summary = run_flow(build_features, flow_parameters(build_features, args))
    console.print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
