"""Flow ``rollback``: move the ``champion`` alias back to the previous champion, in one step.

``python -m flows.rollback --help`` (``make rollback``). The rollback is recorded on the model
versions' tags and as a markdown artifact of the flow run.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow
from rich.console import Console

from core.cli import run_cli
from ops.cli import flow_option, flow_parameters, run_flow


@flow(name="rollback")
def rollback(reason: str = "manual rollback") -> dict[str, str]:
    """Restore the previous champion and record why."""
    from tasks.registry import publish_rollback_summary, rollback_champion  # loads mlflow: ~8 s
    from tasks.stores import prepare_stores_task

    prepare_stores_task(warehouse=False)
    result = rollback_champion(reason=reason)
    return publish_rollback_summary(result)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flows.rollback",
        description="Move the churn-model champion alias back to the previous champion.",
    )
    flow_option(parser, rollback, "reason", help="recorded on the versions")
    return parser


def _run(args: argparse.Namespace) -> int:
    result = run_flow(rollback, flow_parameters(rollback, args))
    Console().print(
        f"champion: v{result['from_version']} → v{result['to_version']} ({result['reason']})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: roll the champion back once and print what moved."""
    return run_cli(_run, _parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
