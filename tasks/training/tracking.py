"""MLflow tracking of a training run: params, metrics, plots, lineage, tags, model, reference.

The tracking URI and the artifact folder come from settings (SQLite + ``mlartifacts`` under
``CHURN_HOME`` by default); the experiment is named after the registered model.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo
from sqlalchemy.engine import make_url

from core.names import (
    REFERENCE_ARTIFACT,
    TAG_DEFINITIONS_HASH,
    TAG_HORIZON_DAYS,
    TAG_TRAINED_THROUGH,
    TAG_TRAINING_IDS,
    TAG_WINDOW_END,
    TAG_WINDOW_START,
    TRAINING_IDS_ARTIFACT,
)
from core.settings import get_settings
from core.tmp import temporary_directory
from models.preprocessing import FeatureSpec
from models.pyfunc import BOOSTER_ARTIFACT, ENTRY_POINT, SPEC_ARTIFACT
from models.signature import build_input_example, build_signature
from tasks.monitoring.reference import log_reference_profile
from tasks.training.crossval import FOLDS, CrossValidatedModel
from tasks.training.evaluation import Evaluation
from tasks.training.fit import TrainedModel
from tasks.training.lineage import log_datasets
from tasks.training.plots import write_plots

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parents[2]
MODEL_ARTIFACT = "model"
_REQUIREMENTS = ("mlflow", "xgboost-cpu", "pandas", "numpy", "scikit-learn", "pyarrow")
Trained = TrainedModel | CrossValidatedModel


@dataclass(frozen=True)
class LoggedRun:
    """Where a training run and its model live in MLflow."""

    run_id: str
    experiment_id: str
    model_uri: str


def use_tracking_store() -> str:
    """Point MLflow at the settings' tracking/registry store (its SQLite folder made); the URI."""
    uri = get_settings().mlflow_tracking_uri
    if uri.startswith("sqlite:"):
        database = make_url(uri).database
        if database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def configure_tracking(model_name: str | None = None) -> str:
    """The experiment of ``model_name`` (default: the built-in model), created if missing, on
    the settings' store; returns its id. Each registered model has an experiment of its name."""
    use_tracking_store()
    settings = get_settings()
    name = model_name or settings.model_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(
            mlflow.create_experiment(name, artifact_location=settings.mlflow_artifact_root.as_uri())
        )
    except MlflowException:
        # another process created it between our lookup and create: use theirs
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def git_commit() -> str:
    """The checkout's HEAD commit, or "unknown" when git or the repository is absent."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _requirements() -> list[str]:
    return [f"{name}=={package_version(name)}" for name in _REQUIREMENTS]


def _log_model(
    trained: Trained, example: pd.DataFrame, workdir: Path, *, tags: dict[str, str]
) -> ModelInfo:
    booster_path = workdir / "booster.json"
    spec_path = workdir / "feature_spec.json"
    trained.fitted.booster.save_model(booster_path)
    spec_path.write_text(json.dumps(trained.spec.to_dict(), indent=2), encoding="utf-8")
    info = mlflow.pyfunc.log_model(
        name=MODEL_ARTIFACT,
        python_model=str(ENTRY_POINT),
        artifacts={BOOSTER_ARTIFACT: str(booster_path), SPEC_ARTIFACT: str(spec_path)},
        signature=build_signature(trained.spec),
        input_example=build_input_example(example, spec=trained.spec),
        pip_requirements=_requirements(),
        tags={TAG_DEFINITIONS_HASH: trained.spec.definitions_hash, **tags},
    )
    return info


def run_tags(trained: TrainedModel, *, horizon_days: int) -> dict[str, str]:
    """Lineage tags: definitions hash, data window, cutoffs, code version."""
    split = trained.split
    first = min(split.train)
    return {
        TAG_DEFINITIONS_HASH: trained.spec.definitions_hash,
        TAG_WINDOW_START: first.date().isoformat(),
        # the latest fact a label looked at: the holdout cutoff plus its horizon
        TAG_WINDOW_END: (split.holdout + timedelta(days=horizon_days)).date().isoformat(),
        TAG_TRAINED_THROUGH: (max(split.valid) + timedelta(days=horizon_days)).isoformat(),
        TAG_HORIZON_DAYS: str(horizon_days),
        "git.commit": git_commit(),
        **split.as_tags(),
    }


def log_evaluation_artifacts(evaluation: Evaluation, workdir: Path, *, spec: FeatureSpec) -> None:
    """Inside an active MLflow run: ROC/PR/calibration/importance plots, the scored holdout as
    the drift reference and its drift profile (computed once per model version)."""
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
    log_reference_profile(reference, spec=spec)


@dataclass(frozen=True)
class _RunRecord:
    """What distinguishes the run of one kind of training: its name, tags, params, per-step
    metric and model metrics besides the holdout's."""

    name: str
    tags: dict[str, str]
    params: dict[str, Any]
    steps: tuple[str, tuple[float, ...]]
    metrics: dict[str, float]


def _cutoff_record(trained: TrainedModel, *, horizon_days: int) -> _RunRecord:
    return _RunRecord(
        name=f"holdout-{trained.split.holdout:%Y-%m}",
        tags=run_tags(trained, horizon_days=horizon_days),
        params={
            "n_trials": len(trained.trials) - 1,
            "horizon_days": horizon_days,
            **trained.sample.as_params(),
        },
        steps=("trial_valid_roc_auc", tuple(t.valid_auc for t in trained.trials)),
        metrics={"valid_roc_auc": trained.fitted.valid_auc},
    )


def _crossval_record(trained: CrossValidatedModel, frame: pd.DataFrame) -> _RunRecord:
    snapshot = pd.to_datetime(frame["as_of"]).max()
    return _RunRecord(
        name=f"snapshot-{snapshot:%Y-%m-%d}",
        tags={
            TAG_DEFINITIONS_HASH: trained.spec.definitions_hash,
            TAG_WINDOW_END: snapshot.date().isoformat(),
            # labels say who had churned by the snapshot: they reach its date
            TAG_TRAINED_THROUGH: snapshot.to_pydatetime().isoformat(),
            TAG_TRAINING_IDS: TRAINING_IDS_ARTIFACT,
            "evaluation": f"stratified holdout + stratified {FOLDS}-fold CV",
            "git.commit": git_commit(),
        },
        params={"folds": FOLDS, "cv_trees": ",".join(str(n) for n in trained.cv_trees)},
        steps=("cv_fold_roc_auc", trained.cv_aucs),
        metrics={"cv_roc_auc": trained.cv_roc_auc, "valid_roc_auc": trained.fitted.valid_auc},
    )


def record_training_run(
    trained: Trained,
    evaluation: Evaluation,
    frame: pd.DataFrame,
    *,
    horizon_days: int,
    model_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    dicts: Mapping[str, Any] | None = None,
) -> LoggedRun:
    """One MLflow run, in ``model_name``'s experiment (default: the built-in model), with
    everything needed to audit, serve and monitor the model, out-of-time or cross-validated:
    what it trained on (``data.trained_through``; a snapshot's training ids), params, metrics,
    the pyfunc model, plots and the drift reference. ``tags`` go on the run and its model,
    ``dicts`` are JSON artifacts (path: content)."""
    experiment_id = configure_tracking(model_name)
    if isinstance(trained, CrossValidatedModel):
        record = _crossval_record(trained, frame)
    else:
        record = _cutoff_record(trained, horizon_days=horizon_days)
    extra_tags = dict(tags or {})
    with (
        temporary_directory("churn-train-") as tmp,
        mlflow.start_run(experiment_id=experiment_id, run_name=record.name) as run,
    ):
        workdir = Path(tmp)
        mlflow.set_tags({**record.tags, **extra_tags})
        fitted = trained.fitted
        mlflow.log_params(
            {
                **fitted.params.as_dict(),
                "seed": trained.seed,
                "scale_pos_weight": round(fitted.scale_pos_weight, 6),
                "best_iteration": fitted.best_iteration,
                **{f"rows_{k}": v for k, v in trained.rows.items()},
                **record.params,
            }
        )
        holdout_dataset = None
        if isinstance(trained, TrainedModel):
            holdout_dataset = log_datasets(frame, split=trained.split, horizon_days=horizon_days)
        else:  # a snapshot has no cutoffs to name: its training rows' ids say what it learned
            _log_training_ids(frame, evaluation.reference, workdir)
        step_metric, values = record.steps
        for step, value in enumerate(values):
            mlflow.log_metric(step_metric, value, step=step)
        info = _log_model(trained, evaluation.reference, workdir, tags=extra_tags)
        model_uri, model_id = str(info.model_uri), str(info.model_id)
        mlflow.log_metrics(record.metrics, model_id=model_id)
        mlflow.log_metrics(
            {f"holdout_{k}": v for k, v in evaluation.metrics.items()},
            model_id=model_id,
            dataset=holdout_dataset,
        )
        if evaluation.baseline is not None:  # the first-model test's yardstick, same holdout
            mlflow.log_metrics(
                {
                    "baseline_roc_auc": evaluation.baseline.roc_auc,
                    "baseline_fit_s": evaluation.baseline.fit_seconds,
                },
                model_id=model_id,
                dataset=holdout_dataset,
            )
        log_evaluation_artifacts(evaluation, workdir, spec=trained.spec)
        for path, content in (dicts or {}).items():
            mlflow.log_dict(content, path)
    log.info("logged run %s (experiment %s), model %s", run.info.run_id, experiment_id, model_uri)
    return LoggedRun(run_id=run.info.run_id, experiment_id=experiment_id, model_uri=model_uri)


def _log_training_ids(frame: pd.DataFrame, holdout: pd.DataFrame, workdir: Path) -> None:
    """The customers the model learned from (every row outside the holdout): a later version is
    compared with this one only on customers outside this set."""
    held = set(holdout["customer_id"].astype(str))
    ids = frame["customer_id"].astype(str)
    path = workdir / Path(TRAINING_IDS_ARTIFACT).name
    pd.DataFrame({"customer_id": ids[~ids.isin(held)].to_numpy()}).to_parquet(path, index=False)
    mlflow.log_artifact(str(path), artifact_path=str(Path(TRAINING_IDS_ARTIFACT).parent))
