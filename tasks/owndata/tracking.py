"""MLflow run of a snapshot model: the same artifacts as a built-in training run.

Params, CV and holdout metrics, the pyfunc model (booster + feature spec, signature, input
example), ROC/PR/calibration/importance plots, the scored holdout as the drift reference and its
drift profile (``tasks.training.tracking.log_evaluation_artifacts``). The experiment is the
model's name (``tasks.training.configure_tracking(spec.model_name)``). The run records what the
model trained on: ``data.trained_through`` (the snapshot date) and the ids of its training rows.
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
import pandas as pd

from core.names import (
    TAG_DEFINITIONS_HASH,
    TAG_SOURCE,
    TAG_SOURCE_KIND,
    TAG_TRAINED_THROUGH,
    TAG_TRAINING_IDS,
    TAG_WINDOW_END,
    TRAINING_IDS_ARTIFACT,
)
from models.pyfunc import BOOSTER_ARTIFACT, ENTRY_POINT, SPEC_ARTIFACT
from models.signature import build_input_example, build_signature
from tasks.owndata.spec import SourceSpec
from tasks.owndata.training import FOLDS, SnapshotModel
from tasks.training import LoggedRun, configure_tracking
from tasks.training.tracking import git_commit, log_evaluation_artifacts

_REQUIREMENTS = ("mlflow", "xgboost-cpu", "pandas", "numpy", "scikit-learn", "pyarrow")
__all__ = ["TAG_SOURCE", "TAG_SOURCE_KIND", "log_snapshot_run"]


def log_snapshot_run(model: SnapshotModel, frame: pd.DataFrame, *, spec: SourceSpec) -> LoggedRun:
    """One MLflow run holding everything needed to audit, serve and monitor the model."""
    experiment_id = configure_tracking(spec.model_name)
    snapshot = pd.to_datetime(frame["as_of"]).max()
    evaluation = model.evaluation
    with (
        tempfile.TemporaryDirectory(prefix="churn-owndata-") as tmp,
        mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{spec.name}-{snapshot:%Y-%m-%d}"
        ) as run,
    ):
        workdir = Path(tmp)
        mlflow.set_tags(
            {
                TAG_DEFINITIONS_HASH: model.spec.definitions_hash,
                TAG_SOURCE: spec.name,
                TAG_SOURCE_KIND: spec.kind,
                TAG_WINDOW_END: snapshot.date().isoformat(),
                # labels say who had churned by the snapshot: they reach its date
                TAG_TRAINED_THROUGH: snapshot.to_pydatetime().isoformat(),
                TAG_TRAINING_IDS: TRAINING_IDS_ARTIFACT,
                "evaluation": f"stratified holdout + stratified {FOLDS}-fold CV",
                "git.commit": git_commit(),
            }
        )
        fitted = model.fitted
        mlflow.log_params(
            {
                **fitted.params.as_dict(),
                "seed": model.seed,
                "folds": FOLDS,
                "scale_pos_weight": round(fitted.scale_pos_weight, 6),
                "best_iteration": fitted.best_iteration,
                "cv_trees": ",".join(str(n) for n in model.cv_trees),
                **{f"rows_{k}": v for k, v in model.rows.items()},
            }
        )
        booster_path, spec_path = workdir / "booster.json", workdir / "feature_spec.json"
        fitted.booster.save_model(booster_path)
        spec_path.write_text(json.dumps(model.spec.to_dict(), indent=2), encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_POINT),
            artifacts={BOOSTER_ARTIFACT: str(booster_path), SPEC_ARTIFACT: str(spec_path)},
            signature=build_signature(model.spec),
            input_example=build_input_example(evaluation.reference, spec=model.spec),
            pip_requirements=[f"{n}=={package_version(n)}" for n in _REQUIREMENTS],
            tags={TAG_DEFINITIONS_HASH: model.spec.definitions_hash, TAG_SOURCE: spec.name},
        )
        model_id = str(info.model_id)
        for fold, auc in enumerate(model.cv_aucs):
            mlflow.log_metric("cv_fold_roc_auc", auc, step=fold)
        mlflow.log_metrics(
            {"cv_roc_auc": model.cv_roc_auc, "valid_roc_auc": fitted.valid_auc}, model_id=model_id
        )
        mlflow.log_metrics(
            {f"holdout_{k}": v for k, v in evaluation.metrics.items()}, model_id=model_id
        )
        log_evaluation_artifacts(evaluation, workdir, spec=model.spec)
        _log_training_ids(frame, evaluation.reference, workdir)
    return LoggedRun(
        run_id=run.info.run_id, experiment_id=experiment_id, model_uri=str(info.model_uri)
    )


def _log_training_ids(frame: pd.DataFrame, holdout: pd.DataFrame, workdir: Path) -> None:
    """The customers the model learned from (every row outside the holdout): a later version is
    compared with this one only on customers outside this set."""
    held = set(holdout["customer_id"].astype(str))
    ids = frame["customer_id"].astype(str)
    path = workdir / Path(TRAINING_IDS_ARTIFACT).name
    pd.DataFrame({"customer_id": ids[~ids.isin(held)].to_numpy()}).to_parquet(path, index=False)
    mlflow.log_artifact(str(path), artifact_path=str(Path(TRAINING_IDS_ARTIFACT).parent))
