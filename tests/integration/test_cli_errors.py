"""The command lines, run as a user runs them: a bad value or a bad CHURN_HOME ends in one line
naming the problem (two with the --verbose hint), a non-zero exit and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    return subprocess.run(
        [sys.executable, "-m", *args],
        env={**base, "PYTHONPATH": str(PROJECT), **env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_train_cli_refuses_min_auc_2_before_any_run(tmp_path: Path) -> None:
    done = _run(["flows.train", "--min-auc", "2"], CHURN_HOME=str(tmp_path / "home"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m flows.train: error: invalid parameter min_auc (--min-auc): Input should be "
        "less than or equal to 1 (see --help)"
    ]
    assert not (tmp_path / "home").exists()  # nothing was set up, nothing ran


def test_flow_cli_writes_nothing_to_the_users_home(tmp_path: Path) -> None:
    """Run by hand, without the Makefile's exports: Prefect, MLflow and matplotlib homes still
    go under CHURN_HOME, never to ~/.prefect, ~/.config or ~/.cache."""
    user_home = tmp_path / "user"
    user_home.mkdir()
    tool_homes = ("PREFECT_", "BENTOML_", "MPLCONFIGDIR", "MLFLOW_", "XDG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", *tool_homes))}
    done = subprocess.run(
        [sys.executable, "-m", "flows.train", "--max-cutoffs", "-2"],
        env={**env, "PYTHONPATH": str(PROJECT), "CHURN_HOME": str(tmp_path / "home")}
        | {"HOME": str(user_home)},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert list(user_home.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["flows.retrain", "--tolerance", "-1"],
            "tolerance (--tolerance): Input should be greater than or equal to 0",
        ),
        (
            ["flows.monitor", "--drift-share", "0"],
            "drift_share (--drift-share): Input should be greater than 0",
        ),
        (
            ["flows.score_batch", "--top-k", "-1"],
            "top_k (--top-k): Input should be greater than or equal to 0",
        ),
        (
            ["flows.rollback", "--reason"],
            None,  # argparse's own usage error: exit 2, before any import of the stage code
        ),
    ],
)
def test_every_flow_cli_refuses_a_bad_value_in_one_line(
    tmp_path: Path, args: list[str], line: str | None
) -> None:
    done = _run(args, CHURN_HOME=str(tmp_path / "home"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    if line is not None:
        prog = f"python -m {args[0]}"
        assert done.stderr.strip().splitlines() == [
            f"{prog}: error: invalid parameter {line} (see --help)"
        ]
    assert not (tmp_path / "home").exists()


def test_ingest_cli_with_churn_home_a_file_says_so(prefect_server: str, tmp_path: Path) -> None:
    home = tmp_path / "afile"
    home.write_text("")
    done = _run(["flows.ingest"], CHURN_HOME=str(home), PREFECT_API_URL=prefect_server)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last, hint = done.stderr.strip().splitlines()[-2:]
    assert last == (
        f"python -m flows.ingest: CHURN_HOME={home} is a file, not a folder; point CHURN_HOME at "
        "a folder (it holds warehouse.db, mlflow.db, sources/, ...) or move the file away"
    )
    assert hint.strip() == "(--verbose or CHURN_DEBUG=1 shows the traceback)"
    verbose = _run(
        ["flows.ingest", "--verbose"], CHURN_HOME=str(home), PREFECT_API_URL=prefect_server
    )
    assert "Traceback (most recent call last)" in verbose.stderr


SIMULATE = ["simulator", "--customers", "150", "--months", "3", "--quiet"]


@pytest.mark.parametrize(
    "steps",
    [
        [(SIMULATE, True)],
        [(["tasks.deploy", "build"], False)],  # an empty registry: no champion
        # a flow run by hand: it starts this home's Prefect server and ingests into the warehouse
        [(SIMULATE, True), (["flows.ingest"], True)],
    ],
    ids=["simulator", "deploy", "ingest-flow"],
)
def test_clis_write_nothing_outside_churn_home(
    tmp_path: Path, steps: list[tuple[list[str], bool]]
) -> None:
    """Run with a read-only, empty HOME: nothing is written there (``python -m tasks.deploy`` wrote
    ~/.config/mlflow/telemetry.json); every tool's state goes to CHURN_HOME."""
    from tests.conftest import _free_port

    user_home = tmp_path / "user"
    user_home.mkdir(mode=0o555)
    tool_homes = ("PREFECT_", "BENTOML_", "MPLCONFIGDIR", "MLFLOW_", "XDG_")
    # MLflow sends no telemetry under pytest (PYTEST_CURRENT_TEST), nor when told not to track
    hidden = ("CHURN_", "PYTEST_", "DO_NOT_TRACK", "CI", *tool_homes)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(hidden)} | {
        "PYTHONPATH": str(PROJECT),
        "CHURN_HOME": str(home),
        "HOME": str(user_home),
        "PREFECT_PORT": str(_free_port()),
    }

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        args = [*args, "--out", str(home / "sources")] if args[0] == "simulator" else args
        return subprocess.run(
            [sys.executable, "-m", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        for args, succeeds in steps:
            done = run(args)
            assert (done.returncode == 0) == succeeds, done.stderr[-2000:]
            if not succeeds:
                assert "champion" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert sorted(str(p.relative_to(user_home)) for p in user_home.rglob("*")) == []
    finally:
        if (home / "prefect").exists():
            run(["ops.server", "stop"])
        user_home.chmod(0o755)
