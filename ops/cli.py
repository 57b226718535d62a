"""What every flow's command line shares: parameter checks before any work, one-line errors.

``run_flow`` checks the parameters against the flow's signature (the same pydantic
constraints Prefect applies to deployment runs), then runs the flow on this home's Prefect server
(``ops.server.using_server``: started if needed, never Prefect's ephemeral one), and raises the
flow's root cause if it failed. Heartbeats (every 30 s, so that a killed run is marked Crashed)
come from the environment every entry point gets (``core.homes``). ``core.cli.run_cli`` turns
an error into ``<prog>: <message>`` and exit 1.

A flow's defaults live in one place, its signature: ``flow_option`` adds an option with no
argparse default (an option not given is not passed, so the flow's own default applies) and a
help text showing the signature's default; ``flow_parameters`` keeps the options given.
"""

from __future__ import annotations

import argparse
import inspect
import logging
from typing import Any, cast

from prefect import Flow
from prefect.client.schemas.objects import State
from prefect.exceptions import ParameterTypeError
from rich.console import Console
from rich.pretty import Pretty

from core.cli import UsageError, run_cli
from ops.server import using_server


def check_parameters(flow: Flow[Any, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the flow will see them; UsageError naming each bad one otherwise."""
    quiet = logging.getLogger("prefect.flows")  # it logs the raw pydantic errors as well
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return flow.validate_parameters(parameters)
    except ParameterTypeError as exc:
        lines = [line.strip(" -") for line in str(exc).splitlines()[1:] if line.strip()]
        detail = "; ".join(_with_option(line) for line in lines) or str(exc)
        raise UsageError(f"invalid parameter {detail}") from exc
    finally:
        quiet.setLevel(level)


def _with_option(line: str) -> str:
    """``min_auc: Input should be ...`` → ``min_auc (--min-auc): Input should be ...``."""
    name, _, message = line.partition(":")
    top = name.split(".")[0].strip()
    message = message.strip().removeprefix("Value error, ")
    return f"{top} (--{top.replace('_', '-')}): {message}" if message else line


def flow_default(flow: Flow[Any, Any], name: str) -> Any:
    """The default of the flow's parameter ``name``, read from its signature."""
    parameter = inspect.signature(flow.fn).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        raise ValueError(f"flow {flow.name!r} has no parameter {name!r} with a default")
    return parameter.default


def flow_option(
    parser: argparse.ArgumentParser,
    flow: Flow[Any, Any],
    name: str,
    *flags: str,
    help: str,
    when_none: str | None = None,
    **kwargs: Any,
) -> None:
    """Add the option of the flow's parameter ``name`` (``--name-in-dashes`` unless ``flags``).

    Left out, the option is absent from the parsed arguments (``argparse.SUPPRESS``), so the
    flow's own default applies. The help ends with that default as the signature gives it;
    ``when_none`` says what a None default means (required then)."""
    default = flow_default(flow, name)
    flags = flags or (f"--{name.replace('_', '-')}",)
    if default is None:
        if when_none is None:
            raise ValueError(
                f"{flow.name}.{name} defaults to None: say what that means (when_none)"
            )
        shown = when_none
    else:  # an option named otherwise (--no-reports) shows which parameter it sets
        shown = str(default) if flags[0] == f"--{name.replace('_', '-')}" else f"{name}={default}"
    parser.add_argument(
        *flags,
        dest=name,
        default=argparse.SUPPRESS,
        help=f"{help} (default: {shown})".replace("%", "%%"),
        **kwargs,
    )


def flow_parameters(flow: Flow[Any, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The flow's parameters among the parsed options: only those given on the command line
    when they were added with ``flow_option``."""
    names = inspect.signature(flow.fn).parameters
    return {key: value for key, value in vars(args).items() if key in names}


def run_flow(flow: Flow[Any, Any], parameters: dict[str, Any]) -> Any:
    """Check ``parameters``, run ``flow`` once on this home's Prefect server (or the one of
    ``PREFECT_API_URL``), return its result or raise."""
    checked = check_parameters(flow, parameters)
    with using_server():
        state = cast(State[Any], flow(**checked, return_state=True))
        return state.result()


def flow_main(flow: Flow[Any, Any], parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """A flow's command line: options map onto the flow's parameters by name (an option's
    ``dest`` is the parameter, see ``flow_option``); run once, print the result; errors as
    ``core.cli.run_cli``."""

    def body(args: argparse.Namespace) -> int:
        Console().print(Pretty(run_flow(flow, flow_parameters(flow, args))))
        return 0

    return run_cli(body, parser, argv)
