"""One settings object for the whole system (env prefix ``CHURN_``).

Every store is a URL, so moving from the embedded defaults under ``CHURN_HOME`` to PostgreSQL
or a remote MLflow server is a setting, not a code change. Nothing here touches the disk.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``CHURN_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="ignore")

    home: Path = Field(default=Path(".churn"), description="Folder holding all embedded state.")
    database_url_override: str | None = Field(
        default=None,
        validation_alias="CHURN_DATABASE_URL",
        description="SQLAlchemy URL of the warehouse; default sqlite under home.",
    )
    mlflow_tracking_uri_override: str | None = Field(
        default=None, validation_alias="CHURN_MLFLOW_TRACKING_URI"
    )
    model_name: str = "churn-model"
    seed: int = 42
    horizon_days: int = 30
    chunk_rows: int = 50_000
    train_max_rows: int = Field(
        default=200_000,
        ge=0,
        description="row budget of the train cutoffs: beyond it their negatives are sampled and "
        "weighted (tasks/training/sampling.py); 0: no limit",
    )
    setup_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="how long store set-up waits for another process setting up the same store",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        lt=30,  # below BentoML's request timeout (30 s), which would answer 504 first
        description="the prediction API answers 408 to a request whose body takes longer",
    )
    fail_fast: bool = Field(
        default=False,
        description="set by the command lines (core.cli.fail_fast): a store that does not answer "
        "fails the command within seconds, with no retries; runs started by a worker leave it "
        "off and keep their retries",
    )
    # Orchestration: where parallel stages run, and where failed runs are announced.
    task_runner: Literal["threads", "dask"] = Field(
        default="threads", description="threads, or dask (prefect-dask DaskTaskRunner)"
    )
    dask_address: str | None = Field(
        default=None, description="scheduler of an existing Dask cluster (default: a local one)"
    )
    dask_workers: int = Field(default=2, description="workers of the local Dask cluster")
    # The local platform: one Prefect server per home, the UIs' ports (the Makefile's variables
    # PREFECT_PORT, MLFLOW_PORT and EVIDENTLY_PORT are read too, so `make X PREFECT_PORT=...` and a
    # command run by hand agree).
    prefect_port: int = Field(
        default=4200,
        gt=0,
        lt=65536,
        validation_alias=AliasChoices("CHURN_PREFECT_PORT", "PREFECT_PORT"),
        description="port of this home's Prefect server when one is started",
    )
    mlflow_port: int = Field(
        default=5000,
        gt=0,
        lt=65536,
        validation_alias=AliasChoices("CHURN_MLFLOW_PORT", "MLFLOW_PORT"),
        description="port of the MLflow UI (make mlflow-ui, make up)",
    )
    evidently_port: int = Field(
        default=8000,
        gt=0,
        lt=65536,
        validation_alias=AliasChoices("CHURN_EVIDENTLY_PORT", "EVIDENTLY_PORT"),
        description="port of the Evidently UI (make evidently-ui, make up)",
    )
    mlflow_ui_url_override: str | None = Field(
        default=None,
        validation_alias="CHURN_MLFLOW_UI_URL",
        description="MLflow UI that reports link to; default the local UI on mlflow_port",
    )
    crash_after_s: float = Field(
        default=210.0,
        gt=30,
        description="a flow run that sends no heartbeat for this long is marked Crashed; more "
        "than the 30 s heartbeat (Prefect's minimum), so a busy run is never marked",
    )
    rollout_poll_s: float = Field(
        default=5.0,
        gt=0,
        description="make up's rollout follower reads the registry's champion aliases this often",
    )
    rollout_drain_s: float = Field(
        default=2.0,
        ge=0,
        description="after traffic moved to a new version, the old server keeps running this "
        "long (answering what it had) before its graceful stop",
    )
    notify_block: str | None = Field(
        default=None,
        description="Prefect notification block slug (e.g. slack-webhook/churn-alerts) told of "
        "failed runs; default: failures are logged only",
    )

    @property
    def database_url(self) -> str:
        """Warehouse URL (``CHURN_DATABASE_URL`` or SQLite under home)."""
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{(self.home / 'warehouse.db').resolve()}"

    @property
    def mlflow_tracking_uri(self) -> str:
        """MLflow tracking + registry store (``CHURN_MLFLOW_TRACKING_URI`` or SQLite under home)."""
        if self.mlflow_tracking_uri_override:
            return self.mlflow_tracking_uri_override
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def mlflow_ui_url(self) -> str:
        """The MLflow UI that reports link to (``CHURN_MLFLOW_UI_URL`` or the local one)."""
        return self.mlflow_ui_url_override or f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def evidently_ui_url(self) -> str:
        return f"http://127.0.0.1:{self.evidently_port}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()

    @property
    def sources_dir(self) -> Path:
        """Where the simulator writes (and ingestion reads) the source-system exports."""
        return (self.home / "sources").resolve()

    @property
    def reports_dir(self) -> Path:
        return (self.home / "reports").resolve()

    @property
    def evidently_home(self) -> Path:
        """Evidently workspace served by ``evidently ui`` (``make evidently-ui``)."""
        return (self.home / "evidently").resolve()

    @property
    def bentoml_home(self) -> Path:
        return (self.home / "bentoml").resolve()

    @property
    def prefect_home(self) -> Path:
        return (self.home / "prefect").resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read from the environment once."""
    return Settings()
