"""Flow parameters carry their ranges: a bad value is refused by name before any work."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema

from core.cli import UsageError
from core.names import utc_now
from flows.build_features import build_features
from flows.ingest import ingest
from flows.train import train
from ops.cli import check_parameters


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"min_auc": 2}, "min_auc (--min-auc): Input should be less than or equal to 1"),
        ({"min_auc": 0.5}, "min_auc (--min-auc): Input should be greater than 0.5"),
        ({"horizon_days": 0}, "horizon_days (--horizon-days): Input should be greater than or"),
        ({"horizon_days": -5}, "horizon_days (--horizon-days)"),
        ({"max_cutoffs": -2}, "max_cutoffs (--max-cutoffs): Input should be greater than or"),
        ({"max_train_rows": -1}, "max_train_rows (--max-train-rows): Input should be greater"),
        ({"tolerance": -1}, "tolerance (--tolerance): Input should be greater than or equal to 0"),
        ({"n_trials": -1}, "n_trials (--n-trials)"),
        ({"cutoffs": [datetime(2030, 1, 1)]}, "cutoffs (--cutoffs): 2030-01-01T00:00:00 is in"),
    ],
)
def test_train_refuses_bad_parameters_by_name(parameters: dict[str, Any], named: str) -> None:
    with pytest.raises(UsageError, match=r"^invalid parameter ") as caught:
        check_parameters(train, parameters)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_train_accepts_good_parameters_and_makes_datetimes_naive_utc() -> None:
    from datetime import UTC

    aware = datetime(2024, 3, 1, 1, 0, tzinfo=UTC) + timedelta(hours=0)
    checked = check_parameters(
        train, {"min_auc": 1.0, "tolerance": 0, "horizon_days": 1, "cutoffs": [aware]}
    )
    assert checked["cutoffs"] == [datetime(2024, 3, 1, 1, 0)]
    assert checked["min_auc"] == 1.0


def test_other_flows_refuse_future_moments_and_unknown_sources() -> None:
    with pytest.raises(UsageError, match=r"as_of \(--as-of\): .* is in the future"):
        check_parameters(build_features, {"as_of": utc_now() + timedelta(days=1)})
    with pytest.raises(UsageError, match=r"sources \(--sources\): no ingestion source erp"):
        check_parameters(ingest, {"sources": ["crm", "erp"]})


def test_deployment_schema_carries_the_ranges() -> None:
    """Prefect builds each deployment's parameter schema (and the UI form) from the signature."""
    properties = parameter_schema(train).model_dump()["properties"]
    floor = properties["min_auc"]["anyOf"][0]  # or null: no absolute floor (the default)
    assert (floor["exclusiveMinimum"], floor["maximum"]) == (0.5, 1.0)
    assert (
        properties["min_baseline_gain"]["minimum"],
        properties["min_baseline_gain"]["maximum"],
    ) == (-0.5, 0.5)
    assert properties["tolerance"]["minimum"] == 0


@pytest.mark.parametrize(
    ("flow_name", "parameters", "named"),
    [
        ("retrain", {"min_auc": 2}, "min_auc (--min-auc): Input should be less than or equal to 1"),
        ("retrain", {"max_cutoffs": 0}, "max_cutoffs (--max-cutoffs): Input should be greater"),
        ("retrain", {"max_train_rows": -5}, "max_train_rows (--max-train-rows): Input should be"),
        ("retrain", {"sources": ["erp"]}, "sources (--sources): no ingestion source erp"),
        ("monitor", {"drift_share": 0}, "drift_share (--drift-share): Input should be greater"),
        ("monitor", {"k_runs": 0}, "k_runs (--k-runs): Input should be greater than or equal"),
        ("monitor", {"min_roc_auc": 1.5}, "min_roc_auc (--min-roc-auc): Input should be less"),
        ("monitor", {"window_hours": -1}, "window_hours (--window-hours): Input should be"),
        ("score_batch", {"top_k": -1}, "top_k (--top-k): Input should be greater than or equal"),
        ("declare", {"spec": "s.yaml", "tolerance": -1}, "tolerance (--tolerance): Input should"),
        ("monitor", {"model_name": "Churn X"}, "model_name (--model-name): String should match"),
        ("score_batch", {"model_name": "telco"}, "model_name (--model-name): String should"),
        ("retrain", {"model_name": "churn-"}, "model_name (--model-name): String should match"),
    ],
)
def test_every_flow_refuses_bad_parameters_by_name(
    flow_name: str, parameters: dict[str, Any], named: str
) -> None:
    import importlib

    flow = getattr(importlib.import_module(f"flows.{flow_name}"), flow_name)
    with pytest.raises(UsageError, match=r"^invalid parameter ") as caught:
        check_parameters(flow, parameters)
    assert named in str(caught.value)


def test_flow_modules_load_without_the_heavy_stage_libraries() -> None:
    """The command lines check parameters before the stage code loads: importing a flow module
    must not pull in mlflow, xgboost, scikit-learn or Evidently (~9-15 s on this machine)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import flows.train, flows.retrain, flows.monitor, flows.rollback, flows.score_batch\n"
        "import flows.declare, flows.ingest, flows.build_features\n"
        "heavy = ('mlflow', 'xgboost', 'sklearn', 'evidently', 'bentoml')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.parametrize("target", ["monitor", "score", "retrain", "bento", "serve"])
def test_make_targets_pass_the_model(target: str) -> None:
    """``make <target> MODEL=churn-<name>`` runs the command line with ``--model-name``; without
    MODEL, the command line's default (churn-model)."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    # run as its own make, not as a sub-make of `make test` (which prints directory lines)
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}

    def command(*args: str) -> str:
        done = subprocess.run(
            ["make", "--no-print-directory", "-n", target, *args],
            cwd=root, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return [line for line in done.stdout.splitlines() if " -m " in line][-1]

    assert "--model-name churn-x" in command("MODEL=churn-x")
    assert "--model-name" not in command()
