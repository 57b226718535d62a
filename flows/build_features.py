"""Prefect flow ``build_features``: materialize the online feature store and report on it.

``as_of`` defaults to the warehouse's data watermark (the time up to which every source has
delivered data). Publishes a markdown artifact (row count, freshness) and a table artifact (null
rate per feature). CLI: ``python -m flows.build_features --help``.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from typing import Any

from prefect import flow
from rich.console import Console

from tasks.features.steps import materialize_online_store, publish_feature_report, resolve_as_of


@flow(name="build_features")
def build_features(as_of: datetime | None = None) -> dict[str, Any]:
    """Materialize every active customer's features at ``as_of`` (default: data watermark)."""
    moment = resolve_as_of(as_of)
    result = materialize_online_store(moment)
    publish_feature_report(result)
    return {
        "rows": result.rows,
        "as_of": result.as_of.isoformat(),
        "definitions_hash": result.definitions_hash,
        "seconds": round(result.seconds, 2),
    }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="naive UTC moment, e.g. 2024-12-01T00:00:00 (default: the data watermark)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    console = Console()
    with console.status("materializing the online feature store"):
        summary = build_features(as_of=args.as_of)
    console.print(summary)


if __name__ == "__main__":
    main()
