import numpy as np
import pytest
import xgboost as xgb

from models.estimator import BoosterParams, fit_booster, to_dmatrix
from models.explain import compute_contributions, explain_predictions
from models.preprocessing import to_model_matrix
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    frame = make_training_set(rows_per_cutoff=500)
    train, valid = frame[frame["as_of"] < CUTOFFS[-1]], frame[frame["as_of"] == CUTOFFS[-1]]
    fitted = fit_booster(
        (to_model_matrix(train, spec=SPEC), train["label"].to_numpy()),
        (to_model_matrix(valid, spec=SPEC), valid["label"].to_numpy()),
        params=BoosterParams(num_boost_round=80, early_stopping_rounds=10),
        seed=1,
    )
    return fitted.booster


def test_compute_contributions_sum_to_the_margin(booster: xgb.Booster) -> None:
    matrix = to_model_matrix(make_training_set(rows_per_cutoff=20, seed=5), spec=SPEC)
    contribs = compute_contributions(booster, matrix)
    margin = booster.predict(to_dmatrix(matrix), output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1).to_numpy(), margin, rtol=1e-4, atol=1e-4)
    assert list(contribs.columns) == [*SPEC.names, "bias"]


def test_explain_predictions_top_k_sorted_by_absolute_contribution(booster: xgb.Booster) -> None:
    matrix = to_model_matrix(make_training_set(rows_per_cutoff=10, seed=6), spec=SPEC)
    explanations = explain_predictions(booster, matrix, top_k=3)
    assert len(explanations) == len(matrix)
    for row in explanations:
        assert len(row) == 3
        sizes = [abs(c.contribution) for c in row]
        assert sizes == sorted(sizes, reverse=True)
        assert {c.feature for c in row} <= set(SPEC.names)


def test_explain_predictions_names_the_dominant_feature(booster: xgb.Booster) -> None:
    frame = make_training_set(rows_per_cutoff=1, cutoffs=CUTOFFS[:1], seed=7)
    frame = frame.assign(failed_payments_90d=9.0, contract="one-year", tenure_days=700.0)
    top = explain_predictions(booster, to_model_matrix(frame, spec=SPEC), top_k=1)[0][0]
    assert top.feature == "failed_payments_90d"
    assert top.contribution > 0


def test_explain_predictions_rejects_non_positive_top_k(booster: xgb.Booster) -> None:
    matrix = to_model_matrix(make_training_set(rows_per_cutoff=2), spec=SPEC)
    with pytest.raises(ValueError, match="top_k"):
        explain_predictions(booster, matrix, top_k=0)
