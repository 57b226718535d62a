"""Prefect task wrappers of the training steps: retries and caching only, the logic lives beside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from core.db import make_engine
from core.settings import get_settings
from models.preprocessing import FeatureSpec
from tasks.definitions import get_definition
from tasks.modeldata.builtin import BuiltinData
from tasks.retries import RETRY_DELAYS, retry_if
from tasks.training.cutoffs import DEFAULT_MAX_CUTOFFS, read_training_set
from tasks.training.evaluation import Evaluation, evaluate_holdout
from tasks.training.fit import TrainedModel, feature_spec, fit_model
from tasks.training.summary import summarize_training, training_markdown
from tasks.training.tracking import LoggedRun

if TYPE_CHECKING:
    from tasks.registry.gate import GateDecision

# The project's one rule (tasks.retries.is_transient): lost connections, locked databases and
# lock timeouts are retried; a bad path, bad input or a contract violation never is.
is_transient_failure = retry_if()


@task(cache_policy=NONE)
def load_feature_spec(model_name: str | None = None) -> FeatureSpec:
    """The feature spec (order, categories, hash) of ``model_name``'s definition (default: the
    built-in model)."""
    return get_definition(model_name).feature_spec() if model_name else feature_spec()


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient_failure,
    cache_policy=NONE,
)
def load_training_set(
    *,
    horizon_days: int,
    cutoffs: Sequence[datetime] | None = None,
    max_cutoffs: int | None = DEFAULT_MAX_CUTOFFS,
    database_url: str | None = None,
    max_train_rows: int | None = None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Point-in-time features of ``model_name``'s definition (default: the built-in model) +
    labels (+ row weights) for the chosen cutoffs, read from the warehouse; ``max_train_rows``
    (default: settings) is the train cutoffs' row budget."""
    engine = make_engine(database_url or get_settings().database_url)
    try:
        return read_training_set(
            BuiltinData(get_definition(model_name)),
            engine=engine,
            horizon_days=horizon_days,
            cutoffs=cutoffs,
            max_cutoffs=max_cutoffs,
            max_train_rows=max_train_rows,
        )
    finally:
        engine.dispose()


@task(cache_policy=NONE)
def train_model(
    frame: pd.DataFrame,
    *,
    spec: FeatureSpec,
    horizon_days: int | None = None,
    n_trials: int = 0,
    n_valid: int = 1,
    seed: int | None = None,
) -> TrainedModel:
    """Fit on the train cutoffs, early-stop (and search ``n_trials``) on the validation cutoffs,
    each partition a whole ``horizon_days`` (default: settings) before the next."""
    return fit_model(
        frame, spec=spec, horizon_days=horizon_days, n_trials=n_trials, n_valid=n_valid, seed=seed
    )


@task(cache_policy=NONE)
def evaluate_model(trained: TrainedModel, frame: pd.DataFrame) -> Evaluation:
    """Out-of-time evaluation of ``trained`` on its holdout cutoff's rows of ``frame``."""
    return evaluate_holdout(trained, frame)


@task(cache_policy=NONE)
def publish_training_summary(
    trained: TrainedModel,
    evaluation: Evaluation,
    logged: LoggedRun,
    decision: GateDecision,
    model_name: str | None = None,
) -> dict[str, Any]:
    """Build the run summary and attach it to the flow run as a markdown artifact."""
    summary = summarize_training(trained, evaluation, logged, decision, model_name=model_name)
    create_markdown_artifact(
        key="train-summary",
        markdown=training_markdown(summary),
        description=f"{summary['model_name']} v{decision.version}: {decision.decision}",
    )
    return summary
