"""Prefect tasks of batch scoring: load the champion, score and write, report."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from core.db import make_engine
from core.names import artifact_key
from core.settings import get_settings
from tasks.modeldata import ModelData
from tasks.retries import DATABASE_ERRORS, RETRY_DELAYS, retry_if
from tasks.scoring.batch import ChampionModel, ScoreBatch, load_champion, score_customers

retry_on_transient = retry_if(lambda error: isinstance(error, (*DATABASE_ERRORS, OSError)))


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
    cache_policy=NONE,
)
def load_champion_model(model_name: str) -> ChampionModel:
    """The model's champion in the registry (retried on I/O errors, not on a missing one)."""
    return load_champion(tracking_uri=get_settings().mlflow_tracking_uri, model_name=model_name)


@task(
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_on_transient,
    cache_policy=NONE,
)
def score_active_customers(champion: ChampionModel, data: ModelData, top_k: int = 3) -> ScoreBatch:
    """Score the model's population from its online store and replace this (model, as_of,
    model version) batch in churn_scores."""
    engine = make_engine(get_settings().database_url)
    try:
        return score_customers(champion, data, engine=engine, top_k=top_k)
    finally:
        engine.dispose()


@task(cache_policy=NONE)
def publish_score_report(batch: ScoreBatch) -> str:
    """Markdown artifact: how many customers per risk band, with which model, as of when."""
    bands = "\n".join(f"| {band} | {n:,} |" for band, n in sorted(batch.bands.items()))
    markdown = (
        f"# churn scores as of {batch.as_of:%Y-%m-%d %H:%M}\n\n"
        f"{batch.rows:,} customers scored by {batch.model_name} v{batch.model_version} "
        f"in {batch.seconds:.1f} s into table `churn_scores` "
        f"(rerunning replaces this batch).\n\n| risk band | customers |\n|---|---|\n{bands}\n"
    )
    create_markdown_artifact(
        key=artifact_key("churn-scores", batch.model_name),
        markdown=markdown,
        description=f"{batch.rows} customers scored",
    )
    return markdown
