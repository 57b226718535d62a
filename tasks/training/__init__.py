"""Training: out-of-time cutoffs and splits, the XGBoost fit (cross-validated where a source has
a single snapshot), holdout evaluation and plots, MLflow tracking and dataset lineage. The
Prefect task wrappers live in ``steps``.

Importing this package connects to nothing and reads no file.
"""

from tasks.training.crossval import CrossValidatedModel, fit_crossval, split_holdout
from tasks.training.cutoffs import (
    DEFAULT_MAX_CUTOFFS,
    CutoffSplit,
    choose_cutoffs,
    read_training_set,
    rows_at,
    split_cutoffs,
)
from tasks.training.evaluation import Evaluation, compute_metrics, evaluate_holdout, score_holdout
from tasks.training.fit import MONOTONE, TrainedModel, feature_spec, fit_model
from tasks.training.steps import (
    evaluate_model,
    is_transient_failure,
    load_feature_spec,
    load_training_set,
    publish_training_summary,
    train_model,
)
from tasks.training.summary import summarize_training, training_markdown
from tasks.training.tracking import LoggedRun, Trained, configure_tracking, record_training_run

__all__ = [
    "DEFAULT_MAX_CUTOFFS",
    "MONOTONE",
    "CrossValidatedModel",
    "CutoffSplit",
    "Evaluation",
    "LoggedRun",
    "Trained",
    "TrainedModel",
    "choose_cutoffs",
    "compute_metrics",
    "configure_tracking",
    "evaluate_holdout",
    "evaluate_model",
    "feature_spec",
    "fit_crossval",
    "fit_model",
    "is_transient_failure",
    "load_feature_spec",
    "load_training_set",
    "publish_training_summary",
    "read_training_set",
    "record_training_run",
    "rows_at",
    "score_holdout",
    "split_cutoffs",
    "split_holdout",
    "summarize_training",
    "train_model",
    "training_markdown",
]
