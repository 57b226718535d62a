"""Snapshot training on a small table with a clear signal: every CV fold and the final model
keep enough trees (early stopping on a fold's few dozen stop rows used to end at 3-6 trees), and
the holdout ROC-AUC comes close to what the true churn probabilities achieve on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.preprocessing import FeatureSpec
from tasks.training.crossval import FOLDS, MIN_TREES, fit_crossval, split_holdout

SPEC = FeatureSpec(
    names=("usage", "noise", "plan"), categories={"plan": ("a", "b", "c")}, definitions_hash="h"
)


def _table(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A snapshot frame whose churn depends on ``usage`` and ``plan``; and the true probability."""
    rng = np.random.default_rng(seed)
    usage, plan = rng.normal(size=rows), rng.choice(["a", "b", "c"], rows)
    probability = 1 / (1 + np.exp(-(-1.0 + 1.5 * usage + 1.0 * (plan == "a"))))
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "as_of": pd.Timestamp("2024-06-30"),
            "label": (rng.random(rows) < probability).astype(int),
            "usage": usage,
            "noise": rng.normal(size=rows),
            "plan": plan,
        }
    )
    return frame, probability


@pytest.mark.parametrize("seed", [0, 3])
def test_small_table_gets_enough_trees_and_a_sensible_auc(seed: int) -> None:
    frame, probability = _table(300, seed)
    model = fit_crossval(frame, spec=SPEC, seed=seed)
    assert len(model.cv_trees) == FOLDS and min(model.cv_trees) >= MIN_TREES
    trees = model.fitted.booster.num_boosted_rounds()
    assert trees == max(MIN_TREES, round(float(np.mean(model.cv_trees))))
    assert model.fitted.best_iteration == trees - 1
    _, holdout = split_holdout(
        frame["customer_id"].to_numpy(), frame["label"].to_numpy(), seed=seed
    )
    best = roc_auc_score(frame["label"].iloc[holdout], probability[holdout])
    assert model.evaluation.metrics["roc_auc"] > best - 0.1, (model.evaluation.metrics, best)
    assert model.cv_roc_auc > 0.5 + (best - 0.5) / 2  # most of the reachable lift
