"""Model quality on a flat churn table: our snapshot training vs a plain notebook XGBoost.

A synthetic Telco-shaped table with real signal goes through the spec path (ingest → features →
training frame); both models are cross-validated on the same stratified folds of the same
deduplicated rows. ``make bench ONLY=declared`` reports the figures on the full 7,000 rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.declared import baseline_cv_roc_auc, training_frame
from tasks.training.crossval import FOLDS, fit_crossval


def test_snapshot_cv_matches_or_beats_notebook_xgboost(tmp_path: Path) -> None:
    frame, spec = training_frame(2000, seed=5, workdir=tmp_path)
    assert len(frame) == 2000 and "totalcharges" in spec.names
    assert frame["totalcharges"].isna().sum() == (frame["tenure"] == 0).sum()  # blanks are nulls
    model = fit_crossval(frame, spec=spec, seed=5)
    baseline = baseline_cv_roc_auc(frame, spec, seed=5)
    assert len(model.cv_aucs) == FOLDS and np.std(model.cv_aucs) < 0.05
    assert model.cv_roc_auc >= baseline, (model.cv_roc_auc, baseline)
    assert abs(model.evaluation.metrics["roc_auc"] - model.cv_roc_auc) < 0.06
