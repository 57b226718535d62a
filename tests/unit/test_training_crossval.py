"""Training on a single snapshot: the id-hash holdout, the class check, and which path a frame
takes."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from tasks.registry import fit_candidate
from tasks.training import CrossValidatedModel, TrainedModel, fit_crossval, split_holdout
from tasks.training.crossval import TooFewRowsError
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set

SNAPSHOT = (datetime(2024, 6, 30),)


def _held_ids(frame: pd.DataFrame, seed: int) -> set[str]:
    _, holdout = split_holdout(
        frame["customer_id"].to_numpy(), frame["label"].to_numpy(), seed=seed
    )
    return set(frame["customer_id"].iloc[holdout])


def test_split_holdout_same_ids_in_any_row_order() -> None:
    frame = make_training_set(rows_per_cutoff=200, cutoffs=SNAPSHOT)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    held = _held_ids(frame, seed=7)
    assert held == _held_ids(shuffled, seed=7)  # a reload in another order holds out the same
    assert held != _held_ids(frame, seed=8)
    labels = frame.set_index("customer_id")["label"]
    for label in (0, 1):  # stratified: a fifth of each class
        members = int((labels == label).sum())
        assert int((labels[list(held)] == label).sum()) == round(0.2 * members)


def test_fit_crossval_with_too_few_churners_names_the_counts() -> None:
    frame = make_training_set(rows_per_cutoff=200, cutoffs=SNAPSHOT)
    churned = np.flatnonzero(frame["label"].to_numpy() == 1)
    frame.loc[churned[9:], "label"] = 0  # nine churners: fewer than two per fold
    with pytest.raises(TooFewRowsError, match=r"^9 churned and 191 stayed rows: .* add rows"):
        fit_crossval(frame, spec=SPEC, seed=1)


def test_fit_candidate_cross_validates_a_single_snapshot_only() -> None:
    snapshot = make_training_set(rows_per_cutoff=300, cutoffs=SNAPSHOT)
    model, evaluation = fit_candidate(snapshot, spec=SPEC, horizon_days=30, seed=1)
    assert isinstance(model, CrossValidatedModel) and evaluation is model.evaluation
    assert len(evaluation.reference) == model.rows["holdout"] == 60

    cutoffs = make_training_set(rows_per_cutoff=200, cutoffs=CUTOFFS)
    trained, evaluation = fit_candidate(cutoffs, spec=SPEC, horizon_days=30, seed=1)
    assert isinstance(trained, TrainedModel)
    assert set(evaluation.reference["as_of"]) == {CUTOFFS[-1]}
