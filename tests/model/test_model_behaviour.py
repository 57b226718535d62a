"""Behaviour and score checks of the churn model trained on the demo data (Made-With-ML style)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from core.names import DEFAULT_MIN_BASELINE_GAIN
from models.pyfunc import ChurnModel
from tests.model.conftest import DemoModel


def _score(demo: DemoModel, frame: pd.DataFrame) -> np.ndarray:
    return (
        ChurnModel(demo.trained.fitted.booster, demo.spec).predict(None, frame)["score"].to_numpy()
    )


def test_model_out_of_time_roc_auc_at_least_0_80(demo_model: DemoModel) -> None:
    metrics = demo_model.evaluation.metrics
    print({k: round(v, 4) for k, v in metrics.items()})
    assert metrics["roc_auc"] >= 0.80


def test_model_top_decile_captures_far_more_than_random(demo_model: DemoModel) -> None:
    # random targeting of 10% of customers captures 10% of churners (lift 1)
    assert demo_model.evaluation.metrics["lift_at_10pct"] >= 3.0


def test_model_holdout_is_later_than_every_training_cutoff(demo_model: DemoModel) -> None:
    split = demo_model.trained.split
    assert max(split.train) < min(split.valid) <= max(split.valid) < split.holdout
    assert set(demo_model.holdout["as_of"]) == {pd.Timestamp(split.holdout)}


def test_model_more_failed_payments_never_lowers_risk(demo_model: DemoModel) -> None:
    rows = demo_model.holdout.head(2000)
    for feature in ("failed_payments_30d", "failed_payments_90d"):
        scores = [_score(demo_model, rows.assign(**{feature: float(k)})) for k in range(6)]
        for fewer, more in itertools.pairwise(scores):
            assert np.all(more >= fewer), f"{feature}: a failed payment more lowered the risk"
        assert np.mean(scores[-1] > scores[0]) > 0.5  # and it usually raises it


def test_model_month_to_month_riskier_than_two_year(demo_model: DemoModel) -> None:
    rows = demo_model.holdout.head(2000)
    monthly = _score(demo_model, rows.assign(contract="month-to-month"))
    two_year = _score(demo_model, rows.assign(contract="two-year"))
    print(f"mean month-to-month {monthly.mean():.4f}, two-year {two_year.mean():.4f}")
    assert monthly.mean() > 1.5 * two_year.mean()
    assert np.mean(monthly >= two_year) >= 0.9


def test_model_region_barely_moves_the_score(demo_model: DemoModel) -> None:
    # region plays no part in the simulated churn; the model must not invent one
    rows = demo_model.holdout.head(2000)
    base = _score(demo_model, rows)
    shifts = np.max(
        [
            np.abs(_score(demo_model, rows.assign(region=r)) - base)
            for r in ("north", "south", "east", "west")
        ],
        axis=0,
    )
    print(f"region shift: median {np.median(shifts):.4f}, p95 {np.quantile(shifts, 0.95):.4f}")
    assert np.quantile(shifts, 0.95) < 0.03


def test_model_unknown_category_scores_like_missing(demo_model: DemoModel) -> None:
    rows = demo_model.holdout.head(200)
    unknown = _score(demo_model, rows.assign(plan="enterprise"))
    missing = _score(demo_model, rows.assign(plan=None))
    assert np.all(np.isfinite(unknown))
    np.testing.assert_array_equal(unknown, missing)


def test_model_clears_the_first_model_gate_at_its_default_margin(demo_model: DemoModel) -> None:
    """``make demo`` gets a champion with the default settings: the model beats a logistic
    regression fitted on the same train rows by the default margin on the same holdout."""
    baseline = demo_model.evaluation.baseline
    assert baseline is not None and baseline.train_rows == demo_model.trained.rows["train"]
    gain = demo_model.evaluation.metrics["roc_auc"] - baseline.roc_auc
    assert gain >= DEFAULT_MIN_BASELINE_GAIN, (gain, baseline)
    assert gain > 0, (gain, baseline)  # on the demo data the trees beat the linear model
