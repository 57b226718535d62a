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


def test_fit_crossval_keeps_to_the_row_budget_and_scores_the_whole_holdout() -> None:
    """A 5.8-million-row table cross-validated every row five times over (4.5 min): CV and the
    final fit now work on the training row budget, like out-of-time training."""
    frame = make_training_set(rows_per_cutoff=6000, cutoffs=SNAPSHOT)
    churned = int(frame["label"].sum())
    full = fit_crossval(frame, spec=SPEC, seed=1, max_rows=0)
    budget = 1200 + churned
    sampled = fit_crossval(frame, spec=SPEC, seed=1, max_rows=budget)
    assert full.rows["train"] == 4800 and full.rows["holdout"] == sampled.rows["holdout"] == 1200
    # every churned row outside the holdout stays; stayed rows fill the rest of the budget
    assert 0.8 * budget < sampled.rows["train"] < 1.2 * budget
    # the holdout is scored whole; weighting the kept rows keeps the model as good
    assert abs(sampled.evaluation.metrics["roc_auc"] - full.evaluation.metrics["roc_auc"]) < 0.03
    assert abs(sampled.cv_roc_auc - full.cv_roc_auc) < 0.04
    same = fit_crossval(frame, spec=SPEC, seed=1, max_rows=budget)
    assert same.evaluation.metrics == sampled.evaluation.metrics  # same rows, same model
