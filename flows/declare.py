"""Flow ``declare``: a declared source (your own churn data in one spec file) → a gated, served
model.

check spec + data → ingest (contract, quarantine, duplicates) → training set → train,
evaluate, log, register ``churn-<name>`` and gate → online store (for the champion). ``make declare
SPEC=path/to/spec.yaml`` runs it and prints one JSON line; see docs/declared-sources.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from prefect import flow

from core.cli import UsageError, console_tracebacks, describe_error, fail_fast
from core.names import DEFAULT_MIN_BASELINE_GAIN, DEFAULT_MIN_GAIN
from ops.cli import check_parameters, flow_option, flow_parameters
from ops.params import AucFloor, AucGain, AucTolerance, BaselineGain


@flow(name="declare")
def declare(
    spec: str,
    min_auc: AucFloor | None = None,
    tolerance: AucTolerance = 0.01,
    min_gain: AucGain = DEFAULT_MIN_GAIN,
    min_baseline_gain: BaselineGain = DEFAULT_MIN_BASELINE_GAIN,
) -> dict[str, Any]:
    """Ingest the source declared in the ``spec`` file, build its features, train and gate it,
    then refresh its online store for the champion (never with definitions it cannot read)."""
    # mlflow and xgboost load when the flow runs, not with this module (bad parameters: ~2 s)
    from tasks.declared.steps import (
        check_spec_task,
        ingest_spec_task,
        publish_declared_summary,
        refresh_online_task,
        train_spec_task,
        training_frame_task,
    )
    from tasks.monitoring.steps import record_promoted_reference
    from tasks.stores import prepare_stores_task

    source = check_spec_task(spec)
    prepare_stores_task()
    ingested = ingest_spec_task(source)
    frame, definition = training_frame_task(source)
    trained = train_spec_task(
        source,
        frame,
        definition,
        min_auc=min_auc,
        tolerance=tolerance,
        min_gain=min_gain,
        min_baseline_gain=min_baseline_gain,
    )
    # after the gate: a rejected candidate's new definitions must not replace the rows the
    # serving champion reads (its API would answer 503)
    online = refresh_online_task(source, definition, candidate=trained["version"])
    if trained["decision"] == "promoted":  # drift is measured against what it is promoted on
        record_promoted_reference(definition.name, trained["version"])
    summary = {
        **trained,
        "source": source.name,
        "kind": source.kind,
        "rows_read": ingested.rows_read,
        "rows_loaded": ingested.rows_loaded,
        "rows_quarantined": ingested.rows_quarantined,
        "duplicates": ingested.duplicates,
        "duplicates_kept": source.keeps_duplicates,
        "replaced": ingested.replaced,
        **online.summary(),
    }
    publish_declared_summary(summary)
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.declare",
        description="Train, register and gate churn-<name> from the source declared in a spec"
        " file (see docs/declared-sources.md). Prints one JSON line.",
    )
    parser.add_argument("spec", help="path to the source spec (YAML)")
    flow_option(parser, declare, "min_auc", type=float, help="ROC-AUC floor", when_none="none")
    flow_option(parser, declare, "tolerance", type=float, help="allowed AUC drop vs the champion")
    flow_option(
        parser, declare, "min_gain", type=float, help="AUC a reload of the same data must gain"
    )
    flow_option(parser, declare, "min_baseline_gain", type=float, help="first model's AUC gain")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of this home's Prefect server when it is started (default: PREFECT_PORT, 4200)",
    )
    parser.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI: check the spec and its data, then run the flow; print one JSON line."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Prefect set up logging at import (root at WARNING): let our INFO lines through to the
    # handlers it attaches to our loggers (PREFECT_LOGGING_EXTRA_LOGGERS below)
    logging.getLogger("tasks").setLevel(logging.INFO)
    try:  # one-line errors for the parameters, the spec and its data before any server or write
        parameters = check_parameters(declare, flow_parameters(declare, args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tasks.declared.source import check_source
    from tasks.declared.spec import SpecError, load_spec

    try:
        check_source(load_spec(args.spec))
        from ops.server import using_server

        # our modules log through standard logging: Prefect shows their lines (counts, replaced
        # snapshots, fold scores) on the console and in the UI
        os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tasks,flows,models")
        with (
            using_server(args.port),  # heartbeats: flows/__init__ (core.homes)
            fail_fast(),  # started from a terminal: a store that does not answer fails now
            console_tracebacks(shown=args.verbose),  # Prefect logs the failed run's traceback
        ):
            summary = declare(**parameters)
    except (SpecError, UsageError) as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a failed run: its root cause in one line, the traceback on request
        if args.verbose:
            raise
        print(f"error: {describe_error(exc)} (--verbose shows the traceback)", file=sys.stderr)
        return 1
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
