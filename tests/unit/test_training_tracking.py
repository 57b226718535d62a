import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.types import DataType

import tasks.training.tracking
from tasks.training.lineage import WarehouseDataset, WarehouseSource, frame_digest
from tasks.training.tracking import git_commit


def test_git_commit_is_head_of_this_checkout() -> None:
    commit = git_commit()
    assert commit == "unknown" or (len(commit) == 40 and int(commit, 16) >= 0)


def test_git_commit_outside_a_repository_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.training.tracking, "PROJECT_DIR", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
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
