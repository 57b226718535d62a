"""Flow ``score_batch``: score every active customer with the champion into ``churn_scores``.

The table is what a CRM campaign reads: customer, churn probability, risk band, the top reasons,
model version and the features' as_of. One batch per (as_of, model version); a rerun replaces it.
CLI: ``python -m flows.score_batch --help``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from prefect import flow
from rich.console import Console

from flows.runtime import notify_failure
from tasks.scoring.steps import load_champion_model, publish_score_report, score_active_customers


@flow(name="score_batch", on_failure=[notify_failure])
def score_batch(top_k: int = 3) -> dict[str, Any]:
    """Score the online store with ``models:/<name>@champion``; keep ``top_k`` reasons each."""
    champion = load_champion_model()
    batch = score_active_customers(champion, top_k=top_k)
    publish_score_report(batch)
    return {
        "model": batch.model_name,
        "model_version": batch.model_version,
        "as_of": batch.as_of.isoformat(),
        "rows": batch.rows,
        "bands": batch.bands,
        "seconds": round(batch.seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: score once and print the batch summary."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.score_batch",
        description="Score every active customer with the champion into table churn_scores.",
    )
    parser.add_argument("--top-k", type=int, default=3, help="reasons kept per customer")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    console = Console()
    try:
        with console.status("scoring active customers"):
            summary = score_batch(top_k=args.top_k)
    except (LookupError, ValueError) as exc:
        if args.verbose:
            raise
        console.print(f"[red]score_batch failed:[/red] {exc}")
        return 1
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
