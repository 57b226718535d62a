"""Register the deployments in prefect.yaml on the Prefect server (the local one by default),
and the automation that marks flow runs whose process died as Crashed."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from core.cli import run_cli
from ops.server import PROJECT_DIR, ensure_server, prefect_env

WORK_POOL = "churn-local"


def deploy_all(api_url: str) -> None:
    """Create the process work pool if needed, then `prefect deploy --all` from the project root."""
    prefect = str(Path(sys.executable).parent / "prefect")
    env = {**os.environ, **prefect_env(), "PREFECT_API_URL": api_url}
    # idempotent: the worker of `make up` may have created the pool already
    subprocess.run(
        [prefect, "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all"], env=env, cwd=PROJECT_DIR, check=True
    )


def _run(args: argparse.Namespace) -> int:
    url = ensure_server(args.port)
    deploy_all(url)
    os.environ["PREFECT_API_URL"] = url  # before prefect is imported below
    from ops.automations import ensure_crash_automation

    ensure_crash_automation()
    print(
        f"deployments registered at {url.removesuffix('/api')}/deployments; "
        "`make up` runs a worker (or `make worker` in the foreground)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.deploy", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of this home's Prefect server when it is started (default: PREFECT_PORT, 4200)",
    )
    return run_cli(_run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
