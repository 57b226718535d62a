"""The training row budget: purged cutoffs left out, train negatives sampled and weighted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.estimator import BoosterParams, fit_booster, predict_scores
from models.preprocessing import to_model_matrix
from tasks.training import split_cutoffs, train_model
from tasks.training.sampling import (
    WEIGHT,
    TrainingSample,
    attach_sample,
    sample_of,
    sample_training_rows,
)
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set

FAST = BoosterParams(num_boost_round=80, early_stopping_rounds=10)


def _labels(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["customer_id", "as_of", "label"]]


def test_budget_keeps_every_positive_and_weights_kept_negatives() -> None:
    frame = make_training_set(rows_per_cutoff=1000)
    split = split_cutoffs(CUTOFFS, horizon_days=30)
    kept, sample = sample_training_rows(_labels(frame), split, max_train_rows=1500, seed=3)
    train = kept[kept["as_of"].isin(split.train)]
    all_train = frame[frame["as_of"].isin(split.train)]
    positives = int(all_train["label"].sum())
    assert int(train["label"].sum()) == positives  # every churner stays
    assert abs(len(train) - 1500) < 150  # the budget, up to the sampling noise
    rate = (1500 - positives) / (len(all_train) - positives)
    assert sample.negative_rate == pytest.approx(rate)
    negatives = train[train["label"] == 0]
    np.testing.assert_allclose(negatives[WEIGHT], 1 / rate)
    np.testing.assert_array_equal(train.loc[train["label"] == 1, WEIGHT], 1.0)
    assert sample.train_negatives_dropped == len(all_train) - len(train)
    holdout = kept[kept["as_of"] == split.holdout]  # never sampled
    assert len(holdout) == 1000
    assert (holdout[WEIGHT] == 1.0).all()
    # validation: every churner, negatives at the same rate and weight
    valid = kept[kept["as_of"].isin(split.valid)]
    all_valid = frame[frame["as_of"].isin(split.valid)]
    assert int(valid["label"].sum()) == int(all_valid["label"].sum())
    valid_negatives = (all_valid["label"] == 0).sum()
    assert (valid["label"] == 0).sum() == pytest.approx(rate * valid_negatives, rel=0.2)
    np.testing.assert_allclose(valid.loc[valid["label"] == 0, WEIGHT], 1 / rate)
    assert sample.valid_negatives_dropped == valid_negatives - (valid["label"] == 0).sum()
    # weighted, the sample stands for the whole train partition
    assert negatives[WEIGHT].sum() == pytest.approx(len(all_train) - positives, rel=0.1)


def test_purged_cutoffs_are_left_out_and_recorded() -> None:
    frame = make_training_set(rows_per_cutoff=100)
    split = split_cutoffs(CUTOFFS, horizon_days=60)
    assert split.purged
    kept, sample = sample_training_rows(_labels(frame), split, max_train_rows=0, seed=1)
    assert not kept["as_of"].isin(split.purged).any()
    assert sample == TrainingSample(purged=split.purged, purged_rows=100 * len(split.purged))
    assert (kept[WEIGHT] == 1.0).all()  # no budget: nothing sampled


def test_sample_is_reproducible_from_the_seed() -> None:
    labels = _labels(make_training_set(rows_per_cutoff=500))
    split = split_cutoffs(CUTOFFS, horizon_days=30)
    a, _ = sample_training_rows(labels, split, max_train_rows=800, seed=7)
    b, _ = sample_training_rows(labels, split, max_train_rows=800, seed=7)
    c, _ = sample_training_rows(labels, split, max_train_rows=800, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["customer_id"].equals(c["customer_id"]) or not a["as_of"].equals(c["as_of"])


def test_under_the_budget_nothing_is_sampled() -> None:
    labels = _labels(make_training_set(rows_per_cutoff=100))
    split = split_cutoffs(CUTOFFS, horizon_days=30)
    kept, sample = sample_training_rows(labels, split, max_train_rows=400, seed=1)
    assert len(kept) == len(labels)
    assert sample.negative_rate == 1.0
    with pytest.raises(ValueError, match="max_train_rows must be >= 0"):
        sample_training_rows(labels, split, max_train_rows=-1, seed=1)


def test_weighted_sample_keeps_probabilities_calibrated() -> None:
    frame = make_training_set(rows_per_cutoff=3000, seed=5)
    split = split_cutoffs(CUTOFFS, horizon_days=30)
    kept, sample = sample_training_rows(_labels(frame), split, max_train_rows=3000, seed=2)
    assert sample.negative_rate < 0.5
    features = frame.merge(kept, on=["customer_id", "as_of", "label"])
    train = features[features["as_of"].isin(split.train)]
    valid = features[features["as_of"].isin(split.valid)]
    holdout = frame[frame["as_of"] == split.holdout]

    def xy(rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        return to_model_matrix(rows, spec=SPEC), rows["label"].to_numpy()

    rate = holdout["label"].mean()
    weighted = fit_booster(
        xy(train), xy(valid), params=FAST, seed=1, weight=train[WEIGHT].to_numpy()
    )
    assert predict_scores(weighted.booster, xy(holdout)[0]).mean() == pytest.approx(rate, rel=0.2)
    # the check has teeth: ignoring the weights overpredicts by about 1 / negative rate
    unweighted = fit_booster(xy(train), xy(valid), params=FAST, seed=1)
    assert predict_scores(unweighted.booster, xy(holdout)[0]).mean() > 1.5 * rate


def test_train_model_reports_what_the_sample_left_out() -> None:
    frame = make_training_set(rows_per_cutoff=400)
    split = split_cutoffs(CUTOFFS, horizon_days=60)
    kept, sample = sample_training_rows(_labels(frame), split, max_train_rows=600, seed=1)
    sampled = attach_sample(frame.merge(kept, on=["customer_id", "as_of", "label"]), sample)
    trained = train_model.fn(sampled, spec=SPEC, horizon_days=60, seed=1)
    assert trained.split == split  # the purged cutoffs are named though none was loaded
    assert trained.rows["purged"] == 400 * len(split.purged)
    assert trained.sample == sample_of(sampled) == sample
    assert trained.sample.as_params()["train_negative_rate"] < 1
