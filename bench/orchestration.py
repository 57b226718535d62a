"""Orchestration benchmark: the ``retrain`` flow end to end on the default demo data.

A throwaway CHURN_HOME: simulate the demo's sources (5,000 customers, 18 months), start a local
Prefect server (not timed), then run ``retrain`` once. Figures:
``retrain.wall_s`` (the flow run's wall time, split by stage in ``stages``) and
``retrain.overhead_frac`` = (flow wall − time covered by task runs) / flow wall, where the task
time is the union of every task run's interval in the flow and its subflows (concurrent tasks
count once; the placeholder task runs Prefect creates for subflows are excluded).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from rich.console import Console

from bench._common import emit, free_port

console = Console(stderr=True)


def busy_seconds(intervals: Sequence[tuple[datetime, datetime]]) -> float:
    """Length of the union of ``intervals`` (overlaps count once)."""
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def _measure(flow_run_id: UUID) -> tuple[float, float]:
    """(flow wall seconds, seconds covered by task runs) of a flow run and its subflows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    with get_client(sync_client=True) as client:
        root = client.read_flow_run(flow_run_id)
        runs = [root]
        frontier = [flow_run_id]
        while frontier:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
                )
            )
            runs += children
            frontier = [c.id for c in children]
        placeholders = {r.parent_task_run_id for r in runs if r.parent_task_run_id}
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs]))
        )
    intervals = [
        (t.start_time, t.end_time)
        for t in tasks
        if t.id not in placeholders and t.start_time is not None and t.end_time is not None
    ]
    if root.start_time is None or root.end_time is None:
        raise RuntimeError(f"flow run {flow_run_id} has no start/end time: did it run?")
    wall = (root.end_time - root.start_time).total_seconds()
    return wall, busy_seconds(intervals)


def main(argv: list[str] | None = None) -> None:
    """Simulate, start a server, run retrain once, print the two figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=5000, help="simulated customers")
    parser.add_argument("--months", type=int, default=18, help="simulated months")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churn-bench-retrain-") as home:
        os.environ["CHURN_HOME"] = home
        os.environ.pop("CHURN_DATABASE_URL", None)
        os.environ.pop("CHURN_MLFLOW_TRACKING_URI", None)
        os.environ.pop("PREFECT_API_URL", None)
        from core.settings import get_settings
        from ops.server import prefect_env, start_server, stop_server

        get_settings.cache_clear()
        os.environ.update(prefect_env())  # before prefect reads its settings
        from simulator import SimConfig, simulate

        with console.status("simulating the demo's sources"):
            simulate(
                SimConfig(customers=args.customers, months=args.months, seed=args.seed),
                get_settings().sources_dir,
            )
        with console.status("starting a Prefect server"):
            url = start_server(free_port()).api_url
        os.environ["PREFECT_API_URL"] = url
        try:
            summary, wall, busy = _run_retrain()
        finally:
            stop_server()
    stages: dict[str, Any] = {k: v["seconds"] for k, v in summary["stages"].items()}
    emit("retrain.wall_s", wall, "s", stages=stages, customers=args.customers, months=args.months)
    emit("retrain.overhead_frac", (wall - busy) / wall, "fraction", task_s=round(busy, 2))


def _run_retrain() -> tuple[dict[str, Any], float, float]:
    from prefect.logging.handlers import APILogWorker

    from flows.retrain import retrain

    state = retrain(reason="benchmark", return_state=True)
    APILogWorker.drain_all(timeout=30)
    if not state.is_completed():
        raise RuntimeError(f"retrain did not complete: {state.message}")
    flow_run_id = state.state_details.flow_run_id
    if flow_run_id is None:
        raise RuntimeError("retrain's final state names no flow run")
    wall, busy = _measure(flow_run_id)
    return state.result(), wall, busy


if __name__ == "__main__":
    main()
