"""One model trained on the default demo data (5,000 customers × 18 months, seed 42), built once
per session through the real chain: simulator → ingestion → feature store + labels → training."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from models.preprocessing import FeatureSpec
from tasks.training import (
    Evaluation,
    TrainedModel,
    evaluate_model,
    load_feature_spec,
    load_training_set,
    train_model,
)
from tests.model.pipeline import build_warehouse

DEMO = {"customers": 5000, "months": 18, "seed": 42}
HORIZON_DAYS = 30


@dataclass(frozen=True)
class DemoModel:
    """The trained model, its evaluation and the training set it came from."""

    trained: TrainedModel
    evaluation: Evaluation
    frame: pd.DataFrame
    spec: FeatureSpec

    @property
    def holdout(self) -> pd.DataFrame:
        return self.evaluation.reference


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> DemoModel:
    url = build_warehouse(tmp_path_factory.mktemp("demo-data"), **DEMO)
    frame = load_training_set.fn(horizon_days=HORIZON_DAYS, database_url=url)
    spec = load_feature_spec.fn()
    trained = train_model.fn(frame, spec=spec, seed=DEMO["seed"])
    return DemoModel(trained, evaluate_model.fn(trained, frame), frame, spec)
