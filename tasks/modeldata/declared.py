"""``churn-<name>``: a declared source (``tasks.declared``), by its stored contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine

from core.names import CHAMPION, SOURCE_CONTRACT_ARTIFACT
from tasks.declared.features import DeclaredDefinition, source_definition
from tasks.declared.labels import (
    available_cutoffs,
    events_labels,
    events_watermark,
    latest_population,
    latest_snapshot,
)
from tasks.declared.spec import SpecError, source_of
from tasks.declared.store import load_contract, run_source
from tasks.features.lookup import OnlineFeatures, get_online_features
from tasks.modeldata.base import LabelsUnavailableError, ModelData

if TYPE_CHECKING:  # mlflow loads only where a run is read
    from mlflow import MlflowClient

SNAPSHOT_NO_LABELS = (
    "a snapshot source has no delayed labels: its churn flag is the outcome at the snapshot the"
    " features come from, the customers served from it had not churned then, and no horizon says"
    " which later snapshot would judge them"
)


@dataclass(frozen=True, eq=False)
class DeclaredData(ModelData):
    """A declared source's features, online rows, population and labels."""

    definition: DeclaredDefinition

    @property
    def source(self) -> str:
        return self.definition.source

    @property
    def kind(self) -> str:
        return self.definition.kind

    @property
    def ingestion_sources(self) -> tuple[str, ...]:
        return (run_source(self.source),)

    @property
    def labels_unavailable(self) -> str | None:
        return SNAPSHOT_NO_LABELS if self.kind == "snapshot" else None

    def watermark(self, *, engine: Engine) -> datetime | None:
        if self.kind == "snapshot":
            return latest_snapshot(self.source, engine=engine)
        return events_watermark(self.source, engine=engine)

    def current_features(self, *, engine: Engine) -> OnlineFeatures:
        """The population at the source's latest data, looked up in its online rows."""
        _, population = latest_population(self.source, self.kind, engine=engine)
        with engine.connect() as conn:
            ids = [str(cid) for cid in conn.execute(population).scalars()]
        return get_online_features(sorted(ids), engine=engine, view=self.definition.online_view)

    def labels(
        self,
        moments: Sequence[datetime],
        *,
        horizon_days: int,
        engine: Engine,
        now: datetime | None = None,
    ) -> pd.DataFrame:
        if self.kind == "snapshot":
            raise LabelsUnavailableError(f"{self.model_name}: {SNAPSHOT_NO_LABELS}")
        return events_labels(self.source, moments, horizon_days, engine=engine)

    def cutoffs(self, *, horizon_days: int, engine: Engine) -> list[datetime]:
        if self.kind == "snapshot":
            return []
        return available_cutoffs(
            self.source, engine=engine, horizon_days=horizon_days,
            every=self.definition.cutoff_every,
        )  # fmt: skip

    def check_elapsed(
        self, cutoffs: Sequence[datetime], *, horizon_days: int, engine: Engine
    ) -> None:
        """The source's completeness clock is its watermark: its latest event or subscription
        change."""
        if self.kind == "snapshot":
            raise LabelsUnavailableError(f"{self.model_name}: {SNAPSHOT_NO_LABELS}")
        now = self.watermark(engine=engine)
        if now is None:
            raise ValueError(f"source {self.source!r} holds no events; ingest it first")
        early = [c for c in cutoffs if c + timedelta(days=horizon_days) > now]
        if early:
            raise ValueError(
                f"cutoff(s) {', '.join(c.isoformat() for c in early)}: the {horizon_days}-day"
                f" label horizon ends after source {self.source!r}'s watermark {now.isoformat()};"
                f" use cutoffs <= {(now - timedelta(days=horizon_days)).isoformat()}"
            )


def declared_data(
    model_name: str, *, engine: Engine, as_served: bool = False
) -> DeclaredData | None:
    """The data of ``churn-<name>`` when source ``<name>`` was ingested; None otherwise.

    ``as_served``: the features the champion was trained on (the contract its run kept), not the
    latest load's — a reload whose candidate the gate rejected changed the stored contract, but
    the champion still serves (and is monitored and batch-scored) on its own definitions."""
    source = source_of(model_name)
    if source is None:
        return None
    try:
        kind, contract = load_contract(source, engine=engine)
    except SpecError:
        return None
    served = served_contract(model_name) if as_served else None
    if served is not None:
        kind, contract = served
    return DeclaredData(source_definition(source, kind, contract))


def served_contract(model_name: str) -> tuple[str, dict[str, Any]] | None:
    """(kind, contract) the champion of ``model_name`` was trained on; None when there is no
    champion, or its run predates logging the contract (then the stored contract is used)."""
    from tasks.registry.store import registry_client

    client = registry_client()
    found = client.search_registered_models(filter_string=f"name = '{model_name}'")
    if not found or CHAMPION not in found[0].aliases:
        return None
    run_id = client.get_model_version_by_alias(model_name, CHAMPION).run_id
    return None if run_id is None else run_contract(client, run_id)


def run_contract(client: MlflowClient, run_id: str) -> tuple[str, dict[str, Any]] | None:
    """(kind, contract) a declared source's run kept (``SOURCE_CONTRACT_ARTIFACT``); None for a
    run from before runs kept it."""
    import mlflow

    folder = SOURCE_CONTRACT_ARTIFACT.rsplit("/", 1)[0]
    if SOURCE_CONTRACT_ARTIFACT not in {a.path for a in client.list_artifacts(run_id, folder)}:
        return None
    document = mlflow.artifacts.load_dict(f"runs:/{run_id}/{SOURCE_CONTRACT_ARTIFACT}")
    return str(document["kind"]), dict(document["contract"])
