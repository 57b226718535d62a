"""``python -m tasks.deploy build|serve``: the champion's bento (``make bento``, ``make serve``).

``--model-name churn-<name>`` builds (and serves) a declared source's model instead of
``churn-model`` (docs/declared-sources.md). ``serve`` first brings the warehouse to the code's
schema, as every flow does: a checkout upgraded under a running store keeps serving its champion.
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

from core.cli import run_cli
from core.settings import get_settings
from core.stores import prepare_stores
from tasks.deploy.build import build_bento
from tasks.deploy.serve import DEFAULT_PORT, champion_version, serve_command, serve_env

console = Console(stderr=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasks.deploy",
        description="Build the bento of a model version (default: the champion) or serve it.",
    )
    parser.add_argument("command", choices=["build", "serve"], help="build, or build + serve")
    parser.add_argument(
        "--model-name",
        default=None,
        help="registered model, e.g. churn-<name> of a declared source (default: churn-model)",
    )
    parser.add_argument("--model-version", default=None, help="registry version (champion)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="serve: HTTP port")
    parser.add_argument("--host", default="127.0.0.1", help="serve: address to bind")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Build (and serve): errors end as every CLI's do (``core.cli.run_cli``); the server
    replaces this process only after that, outside the command's fail-fast settings."""
    serve: list[list[str]] = []

    def body(args: argparse.Namespace) -> int:
        prepare_stores(warehouse=args.command == "serve")  # a store that does not answer: now
        name = args.model_name or get_settings().model_name
        version = args.model_version or champion_version(name)
        with console.status(f"building the bento for {name} version {version}"):
            built = build_bento(version, model_name=name)
        state = "reused" if built.reused else "built"
        model = built.model
        console.print(
            f"{state} bento [bold]{built.tag}[/bold] ({model.model_name} v{model.model_version})"
        )
        console.print(f"Dockerfile: {built.dockerfile}")
        cmd = serve_command(built.tag, port=args.port, host=args.host)
        if args.command == "build":
            make = "make serve" if model.source is None else "python -m tasks.deploy serve"
            flag = "" if model.source is None else f" --model-name {model.model_name}"
            console.print(
                f"serve it: {make}{flag}   (or BENTOML_HOME={serve_env()['BENTOML_HOME']} "
                f"{' '.join(cmd[1:])})"
            )
            return 0
        console.print(f"serving on http://{args.host}:{args.port}  (Ctrl-C stops)")
        serve.append(cmd)
        return 0

    code = run_cli(body, _parser(), argv)
    if code == 0 and serve:
        cmd = serve[0]
        os.execve(cmd[0], cmd, serve_env())  # the server replaces this process: signals reach it
    return code


if __name__ == "__main__":
    sys.exit(main())
