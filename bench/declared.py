"""Declared-source quality benchmark: our snapshot training vs a plain notebook XGBoost.

On a synthetic Telco-shaped table (``simulator.tables.telco_table``, 7,000 rows, 20 columns),
both models are cross-validated on the same stratified 5 folds of the same deduplicated,
non-holdout rows. The baseline is what a notebook does: ``XGBClassifier()`` with default settings
on one-hot coded columns. Figures: ``declared.cv_roc_auc``, ``declared.baseline_xgb.cv_roc_auc``,
``declared.holdout_roc_auc``, ``declared.wall_s``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from bench._common import emit
from core.db import make_engine, upgrade_database
from models.preprocessing import FeatureSpec
from simulator.tables import telco_table
from tasks.training.crossval import cv_folds, split_holdout


def baseline_cv_roc_auc(frame: pd.DataFrame, spec: FeatureSpec, *, seed: int) -> float:
    """Mean ROC-AUC of a default ``XGBClassifier`` on one-hot features over our CV folds."""
    y = frame["label"].to_numpy(dtype="int64")
    x = pd.get_dummies(frame[list(spec.names)], columns=list(spec.categories), dtype=float)
    rest, _ = split_holdout(frame["customer_id"].to_numpy(), y, seed=seed)
    aucs = []
    for train_rows, test_rows in cv_folds(y, rest, seed=seed):
        model = xgb.XGBClassifier(random_state=seed)
        model.fit(x.iloc[train_rows], y[train_rows])
        aucs.append(roc_auc_score(y[test_rows], model.predict_proba(x.iloc[test_rows])[:, 1]))
    return float(np.mean(aucs))


def training_frame(rows: int, *, seed: int, workdir: Path) -> tuple[pd.DataFrame, FeatureSpec]:
    """Ingest a synthetic Telco table through the spec path; return its training frame + spec."""
    from tasks.declared.pipeline import build_training_frame, ingest_source
    from tasks.declared.spec import parse_spec

    telco_table(rows, seed=seed).to_csv(workdir / "telco.csv", index=False)
    url = f"sqlite:///{workdir / 'warehouse.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    spec = parse_spec(
        {
            "name": "telco",
            "kind": "snapshot",
            "file": "telco.csv",
            "id": "customerID",
            "label": "Churn",
            "positive": ["Yes"],
            "snapshot_date": "2024-06-30",
        },
        base_dir=workdir,
    )
    ingest_source(spec, engine=engine)
    frame, features = build_training_frame(spec, engine=engine)
    engine.dispose()
    return frame, features.feature_spec()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=7000, help="rows of the synthetic table")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    from tasks.training.crossval import fit_crossval

    with tempfile.TemporaryDirectory(prefix="bench-declared-") as tmp:
        frame, spec = training_frame(args.rows, seed=args.seed, workdir=Path(tmp))
    started = time.perf_counter()
    model = fit_crossval(frame, spec=spec, seed=args.seed)
    emit("declared.wall_s", time.perf_counter() - started, "s")
    emit("declared.cv_roc_auc", model.cv_roc_auc, "roc_auc")
    emit("declared.holdout_roc_auc", model.evaluation.metrics["roc_auc"], "roc_auc")
    emit(
        "declared.baseline_xgb.cv_roc_auc",
        baseline_cv_roc_auc(frame, spec, seed=args.seed),
        "roc_auc",
    )


if __name__ == "__main__":
    main()
