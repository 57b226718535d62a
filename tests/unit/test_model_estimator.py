import itertools

import numpy as np
import pandas as pd
import pytest

from models.estimator import (
    BoosterParams,
    balance_weight,
    fit_booster,
    monotone_constraints,
    predict_scores,
    search_params,
    to_dmatrix,
    undo_class_weight,
)
from models.preprocessing import to_model_matrix
from tasks.training import compute_metrics
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set

FAST = BoosterParams(num_boost_round=60, early_stopping_rounds=10)


def _xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return to_model_matrix(frame, spec=SPEC), frame["label"].to_numpy()


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    frame = make_training_set(rows_per_cutoff=500)
    return {
        "train": _xy(frame[frame["as_of"] < CUTOFFS[-2]]),
        "valid": _xy(frame[frame["as_of"] == CUTOFFS[-2]]),
        "holdout": _xy(frame[frame["as_of"] == CUTOFFS[-1]]),
    }


def test_fit_booster_learns_the_signal(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1)
    x, y = data["holdout"]
    # the synthetic signal's own (oracle) AUC is about 0.78; chance is 0.5
    assert compute_metrics(y, predict_scores(fitted.booster, x))["roc_auc"] > 0.7
    assert fitted.valid_auc > 0.7


@pytest.mark.parametrize("max_bin", [32, 256])
def test_fit_booster_honours_max_bin_for_train_and_validation(data: dict, max_bin: int) -> None:
    params = BoosterParams(num_boost_round=20, early_stopping_rounds=5, max_bin=max_bin)
    fitted = fit_booster(data["train"], data["valid"], params=params, seed=1)
    assert fitted.params.max_bin == max_bin and fitted.valid_auc > 0.7


def test_fit_booster_same_data_and_seed_give_same_model(data: dict) -> None:
    a = fit_booster(data["train"], data["valid"], params=FAST, seed=7)
    b = fit_booster(data["train"], data["valid"], params=FAST, seed=7)
    x, _ = data["holdout"]
    np.testing.assert_array_equal(predict_scores(a.booster, x), predict_scores(b.booster, x))
    assert a.best_iteration == b.best_iteration


def test_fit_booster_keeps_only_trees_up_to_best_iteration(data: dict) -> None:
    params = BoosterParams(num_boost_round=300, early_stopping_rounds=5, learning_rate=0.5)
    fitted = fit_booster(data["train"], data["valid"], params=params, seed=1)
    assert fitted.best_iteration < 299  # early stopping kicked in
    assert fitted.booster.num_boosted_rounds() == fitted.best_iteration + 1


def test_fit_booster_uses_scale_pos_weight_from_training_labels(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1)
    y = data["train"][1]
    assert fitted.scale_pos_weight == pytest.approx((y == 0).sum() / (y == 1).sum())


def test_balance_weight_one_class_raises() -> None:
    with pytest.raises(ValueError, match="0 positives"):
        balance_weight(np.zeros(5, dtype=int))


def test_fit_booster_single_class_validation_raises(data: dict) -> None:
    x, y = data["valid"]
    with pytest.raises(ValueError, match="validation labels hold a single class"):
        fit_booster(data["train"], (x, np.zeros_like(y)), params=FAST, seed=1)


def test_search_params_is_deterministic_and_returns_the_best_trial(data: dict) -> None:
    best_a, trials_a = search_params(data["train"], data["valid"], n_trials=2, seed=3, base=FAST)
    best_b, trials_b = search_params(data["train"], data["valid"], n_trials=2, seed=3, base=FAST)
    assert len(trials_a) == 3
    assert trials_a[0].params == FAST
    assert [t.params for t in trials_a] == [t.params for t in trials_b]
    assert best_a.params == best_b.params
    assert best_a.valid_auc == max(t.valid_auc for t in trials_a)


def test_search_params_zero_trials_fits_the_base_params_only(data: dict) -> None:
    best, trials = search_params(data["train"], data["valid"], n_trials=0, seed=3, base=FAST)
    assert len(trials) == 1
    assert best.params == FAST


def test_predict_scores_tolerates_unknown_categories(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1)
    frame = make_training_set(rows_per_cutoff=5, cutoffs=CUTOFFS[:1]).assign(plan="enterprise")
    scores = predict_scores(fitted.booster, to_model_matrix(frame, spec=SPEC))
    assert np.all((scores > 0) & (scores < 1))


def test_monotone_constraint_holds_for_every_row(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1, monotone=SPEC.monotone)
    x, _ = data["holdout"]
    scores = [
        predict_scores(fitted.booster, x.assign(failed_payments_90d=float(k))) for k in range(6)
    ]
    assert all(np.all(later >= earlier) for earlier, later in itertools.pairwise(scores))


def test_monotone_constraints_string_follows_column_order() -> None:
    assert monotone_constraints(["a", "b", "c"], {"c": 1, "a": -1}) == "(-1,0,1)"
    assert monotone_constraints(["a"], {}) is None


def test_undo_class_weight_shifts_log_odds_and_keeps_ranking(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1)
    x, _ = data["holdout"]
    shifted = undo_class_weight(fitted.booster, weight=4.0)
    before = fitted.booster.predict(to_dmatrix(x), output_margin=True)
    after = shifted.predict(to_dmatrix(x), output_margin=True)
    np.testing.assert_allclose(before - after, np.log(4.0), rtol=1e-5)


def test_fit_booster_probabilities_are_calibrated_despite_class_weight(data: dict) -> None:
    fitted = fit_booster(data["train"], data["valid"], params=FAST, seed=1)
    assert fitted.scale_pos_weight > 3  # a weighted fit would overpredict ~3x without correction
    x, y = data["holdout"]
    assert predict_scores(fitted.booster, x).mean() == pytest.approx(y.mean(), rel=0.25)
