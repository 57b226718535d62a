"""The built-in definitions (``churn-model``, ``churn-model-90d``): the CRM, billing and helpdesk
sources, their shared feature views and their one key of the online store
(``tasks.definitions``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from tasks.definitions import ChurnDefinition
from tasks.features.lookup import OnlineFeatures, get_online_features, online_customer_ids
from tasks.features.population import data_watermark
from tasks.ingestion.registry import list_sources
from tasks.labels import available_cutoffs, build_labels, check_elapsed
from tasks.modeldata.base import ModelData


@dataclass(frozen=True)
class BuiltinData(ModelData):
    """A built-in definition's features, its rows of ``online_features`` and ``tasks.labels``."""

    definition: ChurnDefinition
    source: None = None
    labels_unavailable: None = None

    @property
    def ingestion_sources(self) -> tuple[str, ...]:
        return tuple(list_sources())

    def watermark(self, *, engine: Engine) -> datetime | None:
        return data_watermark(engine=engine)

    def current_features(self, *, engine: Engine) -> OnlineFeatures:
        """Every customer of the definition's view (active at its materialization)."""
        view = self.definition.online_view
        ids = online_customer_ids(view.name, engine=engine)
        return get_online_features(ids, engine=engine, view=view)

    def labels(
        self,
        moments: Sequence[datetime],
        *,
        horizon_days: int,
        engine: Engine,
        now: datetime | None = None,
    ) -> pd.DataFrame:
        return build_labels(moments, horizon_days, engine=engine, now=now)

    def cutoffs(self, *, horizon_days: int, engine: Engine) -> list[datetime]:
        return available_cutoffs(engine=engine, horizon_days=horizon_days)

    def check_elapsed(
        self, cutoffs: Sequence[datetime], *, horizon_days: int, engine: Engine
    ) -> None:
        check_elapsed(cutoffs, horizon_days, engine=engine)
