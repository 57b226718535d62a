"""A snapshot source's later versions are compared like for like with its champion: both scored
on the rows neither trained on (the champion's recorded training ids are left out), with the
same-data rule (beat it by ``min_gain``). Real Prefect server, MLflow store and warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from core.settings import get_settings
from tests.declared.files import TELCO_SPEC, write_spec, write_telco


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_HOME", str(tmp_path / "home"))
        mp.delenv("CHURN_DATABASE_URL", raising=False)
        mp.delenv("CHURN_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        yield tmp_path / "home"
    get_settings.cache_clear()


def _load(folder: Path, *, signal: float) -> dict[str, Any]:
    from flows.declare import declare

    write_telco(folder, rows=900, signal=signal)
    summary: dict[str, Any] = declare(spec=str(write_spec(folder, TELCO_SPEC)), min_auc=0.6)
    return summary


@pytest.mark.system
def test_snapshot_reload_is_compared_like_for_like(
    home: Path, tmp_path: Path, prefect_server: str
) -> None:
    first = _load(tmp_path, signal=1.0)
    assert (first["version"], first["decision"]) == ("1", "promoted")
    client = MlflowClient(tracking_uri=get_settings().mlflow_tracking_uri)
    v1 = client.get_model_version("churn-telco", "1")
    # the version records what it trained on: the snapshot date and its training rows' ids
    assert v1.tags["data.trained_through"] == "2024-06-30T00:00:00"
    ids = pd.read_parquet(
        client.download_artifacts(v1.run_id, v1.tags["data.training_ids"], str(tmp_path))
    )
    assert ids["customer_id"].is_unique and 715 <= len(ids) <= 725  # 900 rows less a 20% holdout

    # the same file again: same data, same model — not better, never "incomparable"
    again = _load(tmp_path, signal=1.0)
    assert (again["version"], again["decision"]) == ("2", "rejected"), again
    assert again["gate_situation"] == "same"
    auc = f"{again['holdout_roc_auc']:.4f}"
    assert again["reason"].startswith("not better on the same data"), again["reason"]
    assert f"roc_auc {auc} <= champion v1 {auc}" in again["reason"]

    # a corrected export of the same customers whose labels carry more signal: promoted
    corrected = _load(tmp_path, signal=3.0)
    assert (corrected["version"], corrected["decision"]) == ("3", "promoted"), corrected
    assert corrected["reason"].startswith("better on the same data"), corrected["reason"]
    aliases = client.get_registered_model("churn-telco").aliases
    assert {k: str(v) for k, v in aliases.items()} == {"champion": "3", "challenger": "2"}
