"""Flow ``score_batch``: score every customer of a model's population with its champion into
``churn_scores`` (``model_name``: ``churn-model``, or a declared source's ``churn-<name>``).

The table is what a CRM campaign reads: model, customer, churn probability, risk band, the top
reasons, model version and the features' as_of. One batch per (model, as_of, model version); a
rerun replaces it. CLI: ``python -m flows.score_batch --help``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from prefect import flow
from rich.console import Console
from rich.pretty import Pretty

from core.cli import run_cli
from core.names import DEFAULT_MODEL_NAME
from ops.cli import flow_option, flow_parameters, run_flow
from ops.params import ModelName, ReasonCount
from ops.runtime import notify_failure


@flow(name="score_batch", flow_run_name="score-{model_name}", on_failure=[notify_failure])
def score_batch(
    model_name: ModelName = DEFAULT_MODEL_NAME, top_k: ReasonCount = 3
) -> dict[str, Any]:
    """Score the model's population with ``models:/<model_name>@champion``; keep ``top_k``
    reasons each."""
    # loads mlflow and xgboost (~7 s) when the flow runs, so a bad parameter is refused at once
    from tasks.modeldata.steps import resolve_model
    from tasks.scoring.steps import (
        load_champion_model,
        publish_score_report,
        score_active_customers,
    )

    data = resolve_model(model_name, as_served=True)
    champion = load_champion_model(model_name)
    batch = score_active_customers(champion, data, top_k=top_k)
    publish_score_report(batch)
    return {
        "model": batch.model_name,
        "model_version": batch.model_version,
        "as_of": batch.as_of.isoformat(),
        "rows": batch.rows,
        "bands": batch.bands,
        "seconds": round(batch.seconds, 2),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.score_batch",
        description="Score every customer of a model's population with its champion into table"
        " churn_scores.",
    )
    flow_option(
        parser,
        score_batch,
        "model_name",
        help="churn-model, churn-model-90d, or churn-<name> of a declared source",
    )
    flow_option(parser, score_batch, "top_k", type=int, help="reasons kept per customer, 0-50")
    return parser


def _run(args: argparse.Namespace) -> int:
    console = Console()
    parameters = flow_parameters(score_batch, args)
    name = parameters.get("model_name", DEFAULT_MODEL_NAME)
    with console.status(f"scoring the customers of {name}"):
        summary = run_flow(score_batch, parameters)
    console.print(Pretty(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: score once and print the batch summary."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
