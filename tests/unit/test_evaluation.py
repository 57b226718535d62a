from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tasks.training import TrainedModel, evaluate_model, train_model
from tasks.training.evaluation import compute_importance, compute_metrics, top_fraction_stats
from tasks.training.plots import write_plots
from tests.model.synthetic import CUTOFFS, SPEC, make_training_set


def test_top_fraction_stats_counts_hits_among_the_riskiest() -> None:
    # 20 rows, top 10% = 2 rows (scores 0.95, 0.9): one churner among them; 4 churners in total
    scores = np.array([0.95, 0.9, *np.linspace(0.8, 0.1, 18)])
    y = np.zeros(20, dtype=int)
    y[[0, 5, 6, 7]] = 1
    stats = top_fraction_stats(y, scores, fraction=0.1)
    assert stats["precision"] == pytest.approx(1 / 2)
    assert stats["capture_rate"] == pytest.approx(1 / 4)
    assert stats["lift"] == pytest.approx((1 / 2) / (4 / 20))


def test_top_fraction_stats_rounds_the_cut_up() -> None:
    y = np.array([1, 0, 0, 0, 1])
    stats = top_fraction_stats(y, np.array([0.9, 0.8, 0.3, 0.2, 0.1]), fraction=0.1)
    assert stats["precision"] == 1.0  # ceil(0.5) = 1 row


def test_compute_metrics_perfect_ranking() -> None:
    y = np.array([0] * 18 + [1] * 2)
    scores = np.linspace(0.01, 0.99, 20)
    metrics = compute_metrics(y, scores)
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == pytest.approx(1.0)
    assert metrics["capture_rate_at_10pct"] == 1.0
    assert metrics["lift_at_10pct"] == pytest.approx(10.0)
    assert metrics["base_rate"] == pytest.approx(0.1)


def test_compute_metrics_matches_sklearn_and_definitions() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = rng.random(200)
    metrics = compute_metrics(y, scores)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert metrics["brier"] == pytest.approx(np.mean((scores - y) ** 2))
    expected_ll = -np.mean(y * np.log(scores) + (1 - y) * np.log(1 - scores))
    assert metrics["log_loss"] == pytest.approx(expected_ll)


def test_compute_metrics_one_class_holdout_raises() -> None:
    with pytest.raises(ValueError, match="all 4 labels are 0"):
        compute_metrics(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.3, 0.4]))


@pytest.mark.parametrize(
    ("y", "scores", "message"),
    [
        (np.array([0, 1]), np.array([0.1, np.nan]), "finite probabilities"),
        (np.array([0, 1]), np.array([0.1, 1.5]), "finite probabilities"),
        (np.array([0, 1, 1]), np.array([0.1, 0.2]), "one length"),
        (np.array([], dtype=int), np.array([]), "no rows"),
        (np.array([0, 2]), np.array([0.1, 0.2]), "0/1"),
    ],
)
def test_compute_metrics_invalid_inputs_raise(
    y: np.ndarray, scores: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compute_metrics(y, scores)


Trained = tuple[TrainedModel, pd.DataFrame]


@pytest.fixture(scope="module")
def trained_and_frame() -> Trained:
    frame = make_training_set(rows_per_cutoff=300)
    return train_model.fn(frame, spec=SPEC, n_trials=0, seed=1), frame


def test_evaluate_model_scores_only_the_holdout_cutoff(trained_and_frame: Trained) -> None:
    trained, frame = trained_and_frame
    evaluation = evaluate_model.fn(trained, frame)
    reference = evaluation.reference
    assert set(reference["as_of"]) == {CUTOFFS[-1]}
    assert len(reference) == 300
    assert {"customer_id", "label", "score", *SPEC.names} <= set(reference.columns)
    assert evaluation.metrics["roc_auc"] == pytest.approx(
        roc_auc_score(reference["label"], reference["score"])
    )
    assert evaluation.metrics["n_rows"] == 300


def test_evaluate_model_reference_writes_to_parquet_whatever_the_training_attrs(
    tmp_path: Path, trained_and_frame: Trained
) -> None:
    # a training set with purged cutoffs records them as datetimes in frame.attrs (a 90-day
    # horizon over monthly cutoffs); the reference artifact must not carry them
    trained, frame = trained_and_frame
    frame = frame.copy()
    frame.attrs["training_sample"] = {"purged": (CUTOFFS[0],), "purged_rows": 3}
    reference = evaluate_model.fn(trained, frame).reference
    reference.to_parquet(tmp_path / "holdout.parquet", index=False)
    assert reference.attrs == {}


def test_compute_importance_covers_every_feature(trained_and_frame: Trained) -> None:
    trained, _ = trained_and_frame
    importance = compute_importance(trained.fitted.booster, spec=SPEC)
    assert list(importance) == list(SPEC.names)
    assert importance["failed_payments_90d"] > 0


def test_compute_importance_is_zero_for_a_feature_never_split_on() -> None:
    frame = make_training_set(rows_per_cutoff=300).assign(region="north")  # constant: no split
    trained = train_model.fn(frame, spec=SPEC, seed=1)
    assert compute_importance(trained.fitted.booster, spec=SPEC)["region"] == 0.0


def test_write_plots_renders_four_pngs(tmp_path: Path, trained_and_frame: Trained) -> None:
    trained, frame = trained_and_frame
    evaluation = evaluate_model.fn(trained, frame)
    paths = write_plots(
        evaluation.reference["label"].to_numpy(),
        evaluation.reference["score"].to_numpy(),
        metrics=evaluation.metrics,
        importance=evaluation.importance,
        out_dir=tmp_path / "plots",
    )
    assert sorted(p.name for p in paths) == [
        "calibration.png",
        "feature_importance.png",
        "pr.png",
        "roc.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5_000


def test_write_plots_refuses_a_one_class_holdout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels are 1"):
        write_plots(
            np.ones(5, dtype=int),
            np.full(5, 0.5),
            metrics={"roc_auc": 1.0, "pr_auc": 1.0},
            importance={"a": 1.0},
            out_dir=tmp_path,
        )
