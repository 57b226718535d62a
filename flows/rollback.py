"""Flow ``rollback``: move the ``champion`` alias back to the previous champion, in one step.

``python -m flows.rollback --help`` (``make rollback``). The rollback is recorded on the model
versions' tags and as a markdown artifact of the flow run.
"""

from __future__ import annotations

import argparse
import logging

from prefect import flow
from rich.console import Console

from tasks.registry import publish_rollback_summary, rollback_champion


@flow(name="rollback")
def rollback(reason: str = "manual rollback") -> dict[str, str]:
    """Restore the previous champion and record why."""
    result = rollback_champion(reason=reason)
    return publish_rollback_summary(result)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: roll the champion back once and print what moved."""
    parser = argparse.ArgumentParser(
        prog="python -m flows.rollback",
        description="Move the churn-model champion alias back to the previous champion.",
    )
    parser.add_argument("--reason", default="manual rollback", help="recorded on the versions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = rollback(reason=args.reason)
    Console().print(
        f"champion: v{result['from_version']} → v{result['to_version']} ({result['reason']})"
    )


if __name__ == "__main__":
    main()
