"""Every flow command line passes only the options given: the flow signature's defaults apply
otherwise (one place), and ``--help`` shows those defaults as the signature gives them."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from prefect import Flow

from flows import build_features, declare, demo, ingest, monitor, retrain, rollback, score_batch
from flows import train as train_cli
from ops.cli import flow_default, flow_option, flow_parameters
from simulator.config import SimConfig

# (flow, its CLI's parser, the positional arguments it requires)
CLIS: list[tuple[Flow[Any, Any], Callable[[], argparse.ArgumentParser], list[str]]] = [
    (build_features.build_features, build_features._parser, []),
    (ingest.ingest, ingest._parser, []),
    (monitor.monitor, monitor._parser, []),
    (retrain.retrain, retrain._parser, []),
    (rollback.rollback, rollback._parser, []),
    (score_batch.score_batch, score_batch._parser, []),
    (declare.declare, declare._parser, ["spec.yaml"]),
    (train_cli.train, train_cli._parser, []),
]
IDS = [flow.name for flow, _, _ in CLIS]


def _options(parser: argparse.ArgumentParser, flow: Flow[Any, Any]) -> list[argparse.Action]:
    """The parser's options that set one of the flow's parameters."""
    names = inspect.signature(flow.fn).parameters
    return [a for a in parser._actions if a.option_strings and a.dest in names]


@pytest.mark.parametrize(("flow", "make_parser", "positional"), CLIS, ids=IDS)
def test_flow_cli_without_options_passes_no_parameter(
    flow: Flow[Any, Any], make_parser: Callable[[], argparse.ArgumentParser], positional: list[str]
) -> None:
    parser = make_parser()
    assert _options(parser, flow), "the CLI sets none of the flow's parameters"
    expected = {"spec": "spec.yaml"} if positional else {}  # declare's spec is required
    assert flow_parameters(flow, parser.parse_args(positional)) == expected


@pytest.mark.parametrize(("flow", "make_parser", "positional"), CLIS, ids=IDS)
def test_flow_cli_help_shows_the_signature_default(
    flow: Flow[Any, Any], make_parser: Callable[[], argparse.ArgumentParser], positional: list[str]
) -> None:
    for action in _options(make_parser(), flow):
        default = inspect.signature(flow.fn).parameters[action.dest].default
        assert action.help is not None and "(default: " in action.help, action.dest
        if default is not None:  # None: the help says what it means instead
            shown = (f"(default: {default})", f"(default: {action.dest}={default})")
            assert action.help.endswith(shown), (action.dest, default, action.help)


def test_flow_cli_given_options_reach_the_flow() -> None:
    args = train_cli._parser().parse_args(["--min-auc", "0.8", "--max-cutoffs", "0"])
    assert flow_parameters(train_cli.train, args) == {"min_auc": 0.8, "max_cutoffs": None}
    args = ingest._parser().parse_args(["--since", "2024-01-02", "--sources", "crm"])
    assert flow_parameters(ingest.ingest, args).keys() == {"window_start", "sources"}
    args = monitor._parser().parse_args(["--no-reports"])
    assert flow_parameters(monitor.monitor, args) == {"reports": False}


def test_retrain_cli_help_shows_the_train_flows_defaults() -> None:
    """retrain's None means "the train flow's default": the help shows that one."""
    helps = {a.dest: a.help or "" for a in _options(retrain._parser(), retrain.retrain)}
    for name in ("min_baseline_gain", "tolerance", "n_trials", "max_cutoffs"):
        assert f"the train flow's, {flow_default(train_cli.train, name)})" in helps[name]
    assert "the train flow's, none)" in helps["min_auc"]  # no absolute floor


def test_flow_option_refuses_an_unexplained_none_default() -> None:
    with pytest.raises(ValueError, match=r"build_features.as_of defaults to None"):
        flow_option(argparse.ArgumentParser(), build_features.build_features, "as_of", help="x")


def test_demo_cli_without_options_simulates_simconfigs_defaults() -> None:
    parser = demo._parser()
    assert demo.sim_config(parser.parse_args([])) == SimConfig()
    helps = {a.dest: a.help or "" for a in parser._actions}
    for name in ("customers", "months", "seed"):
        assert f"(default: {SimConfig.model_fields[name].default})" in helps[name]
    assert demo.sim_config(parser.parse_args(["--months", "3"])).months == 3
