import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.types import DataType

import tasks.training.tracking
from tasks.training.lineage import WarehouseDataset, WarehouseSource, frame_digest
from tasks.training.tracking import git_commit

ROOT = Path(__file__).resolve().parents[2]


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_git_commit_is_head_of_this_checkout() -> None:
    assert git_commit() == _git(ROOT, "rev-parse", "HEAD")  # the tests run in a git checkout


def test_git_commit_follows_the_repository_it_is_pointed_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    monkeypatch.setattr(tasks.training.tracking, "PROJECT_DIR", tmp_path)
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit() == head


def test_git_commit_outside_a_repository_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.training.tracking, "PROJECT_DIR", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_commit() == "unknown"


def test_git_commit_without_git_installed_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable on it
    assert git_commit() == "unknown"


def test_frame_digest_sees_every_row() -> None:
    frame = pd.DataFrame({"a": range(20_000), "b": ["x"] * 20_000})
    changed = frame.copy()
    changed.loc[19_999, "b"] = "y"  # beyond MLflow's 10,000-row digest window
    assert frame_digest(frame) != frame_digest(changed)
    assert frame_digest(frame) == frame_digest(frame.copy())


def test_warehouse_dataset_schema_comes_from_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "as_of": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "label": [0, 1],
            "spend": [1.5, np.nan],
            "plan": ["basic", None],
        }
    )
    dataset = WarehouseDataset(
        frame, source=WarehouseSource("sqlite://", "2024-01-01", 30), targets="label", name="t"
    )
    specs = {c.name: (c.type, c.required) for c in dataset.schema.inputs}
    assert specs == {
        "customer_id": (DataType.string, True),
        "as_of": (DataType.datetime, True),
        "label": (DataType.long, True),
        "spend": (DataType.double, False),
        "plan": (DataType.string, False),
    }
    assert json.loads(dataset.to_dict()["profile"]) == {"num_rows": 2, "num_elements": 10}
