"""The first-model gate's baseline: a logistic regression on the candidate's own rows."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.preprocessing import FeatureSpec, to_model_matrix
from tasks.registry import fit_candidate
from tasks.training import evaluate_model, rows_at, train_model
from tasks.training.baseline import baseline_pipeline, score_baseline
from tasks.training.sampling import WEIGHT
from tests.model.synthetic import SPEC, make_training_set

ONE = FeatureSpec(names=("a", "plan"), categories={"plan": ("basic", "premium")})


def _xy(frame: pd.DataFrame, spec: FeatureSpec = SPEC) -> tuple[pd.DataFrame, np.ndarray]:
    return to_model_matrix(frame, spec=spec), frame["label"].to_numpy()


def test_score_baseline_handles_missing_numerics_and_unseen_categories() -> None:
    frame = make_training_set(rows_per_cutoff=400)
    train, holdout = frame.iloc[:1600].copy(), frame.iloc[1600:].copy()
    holdout.loc[holdout.index[:50], "plan"] = "gold"  # not a category: missing
    holdout.loc[holdout.index[50:100], "failed_payments_90d"] = np.nan  # never missing in train
    score = score_baseline(_xy(train), _xy(holdout), spec=SPEC)
    assert score.train_rows == 1600
    assert 0.75 < score.roc_auc <= 1.0  # the synthetic signal is log-linear
    assert score.fit_seconds > 0


def test_score_baseline_weighs_the_rows() -> None:
    # 20 rows of weight 1 where churn rises with a, 200 of weight 0 where it falls
    rng = np.random.default_rng(0)
    a = rng.normal(size=220)
    label = np.where(np.arange(220) < 20, a > 0, a < 0).astype("int64")
    train = pd.DataFrame({"a": a, "plan": "basic", "label": label})
    weight = np.where(np.arange(220) < 20, 1.0, 0.0)
    holdout = pd.DataFrame({"a": [-2.0, -1.0, 1.0, 2.0], "plan": "basic", "label": [0, 0, 1, 1]})
    weighted = score_baseline(_xy(train, ONE), _xy(holdout, ONE), spec=ONE, weight=weight)
    unweighted = score_baseline(_xy(train, ONE), _xy(holdout, ONE), spec=ONE)
    assert (weighted.roc_auc, unweighted.roc_auc) == (1.0, 0.0)


def test_evaluate_model_fits_the_baseline_on_the_train_cutoffs_with_their_weights() -> None:
    frame = make_training_set(rows_per_cutoff=300)
    frame[WEIGHT] = np.random.default_rng(1).uniform(0.5, 3.0, len(frame))
    trained = train_model.fn(frame, spec=SPEC, seed=1)
    evaluation = evaluate_model.fn(trained, frame)
    assert evaluation.baseline is not None
    assert evaluation.baseline.train_rows == trained.rows["train"]
    train_rows = rows_at(frame, trained.split.train)
    holdout = rows_at(frame, [trained.split.holdout])
    pipeline = baseline_pipeline(SPEC).fit(
        *_xy(train_rows), logisticregression__sample_weight=train_rows[WEIGHT].to_numpy()
    )
    expected = roc_auc_score(holdout["label"], pipeline.predict_proba(_xy(holdout)[0])[:, 1])
    assert evaluation.baseline.roc_auc == pytest.approx(expected)


def test_fit_candidate_scores_a_snapshots_baseline_on_its_holdout() -> None:
    snapshot = make_training_set(rows_per_cutoff=300, cutoffs=(datetime(2024, 6, 30),))
    model, evaluation = fit_candidate(snapshot, spec=SPEC, horizon_days=30, seed=1)
    assert evaluation.baseline is not None
    assert evaluation.baseline.train_rows == model.rows["train"] == 240
    held = snapshot["customer_id"].isin(evaluation.reference["customer_id"])
    pipeline = baseline_pipeline(SPEC).fit(*_xy(snapshot.loc[~held]))
    reference = evaluation.reference
    expected = roc_auc_score(reference["label"], pipeline.predict_proba(_xy(reference)[0])[:, 1])
    assert evaluation.baseline.roc_auc == pytest.approx(expected)
