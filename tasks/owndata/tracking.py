"""MLflow run of a snapshot model: the same artifacts as a built-in training run.

Params, CV and holdout metrics, the pyfunc model (booster + feature spec, signature, input
example), ROC/PR/calibration/importance plots and the scored holdout as the drift reference. The
experiment is the model's name (``tasks.training.configure_tracking`` inside model_name_scope).
"""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
import pandas as pd

from core.names import REFERENCE_ARTIFACT, TAG_DEFINITIONS_HASH, TAG_WINDOW_END
from models.pyfunc import BOOSTER_ARTIFACT, ENTRY_POINT, SPEC_ARTIFACT
from models.signature import build_input_example, build_signature
from tasks.owndata.spec import SourceSpec
from tasks.owndata.training import FOLDS, SnapshotModel
from tasks.training import LoggedRun, configure_tracking
from tasks.training.plots import write_plots
from tasks.training.tracking import git_commit

_REQUIREMENTS = ("mlflow", "xgboost-cpu", "pandas", "numpy", "scikit-learn", "pyarrow")
TAG_SOURCE = "source.name"
TAG_SOURCE_KIND = "source.kind"


def log_snapshot_run(model: SnapshotModel, frame: pd.DataFrame, *, spec: SourceSpec) -> LoggedRun:
    """One MLflow run holding everything needed to audit, serve and monitor the model."""
    experiment_id = configure_tracking()
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
        reference = evaluation.reference
        write_plots(
            reference["label"].to_numpy(),
            reference["score"].to_numpy(),
            metrics=evaluation.metrics,
            importance=evaluation.importance,
            out_dir=workdir / "plots",
        )
        mlflow.log_artifacts(str(workdir / "plots"), artifact_path="plots")
        mlflow.log_dict(evaluation.importance, "plots/feature_importance.json")
        reference_path = workdir / "holdout.parquet"
        reference.to_parquet(reference_path, index=False)
        mlflow.log_artifact(str(reference_path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
    return LoggedRun(
        run_id=run.info.run_id, experiment_id=experiment_id, model_uri=str(info.model_uri)
    )
