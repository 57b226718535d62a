"""What every model's data answers (``ModelData``), and the resolver from a model name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Engine

from core.names import DEFAULT_MODEL_NAME
from tasks.features.lookup import OnlineFeatures
from tasks.features.retrieval import get_historical_features

if TYPE_CHECKING:
    from tasks.definitions import ChurnDefinition


class LabelsUnavailableError(LookupError):
    """The model's data holds no delayed labels for its predictions; the message says why."""


class ModelData(ABC):
    """A registered model's data: its ``ChurnDefinition`` (features, horizon, name) and how its
    sources' kinds give the population, the online rows and the labels."""

    definition: ChurnDefinition

    @property
    def model_name(self) -> str:
        return self.definition.name

    @property
    def dtypes(self) -> Mapping[str, str]:
        """Feature name → ``float`` | ``int`` | ``category``, in model order."""
        return self.definition.dtypes

    @property
    def definitions_hash(self) -> str:
        """Hash of the feature definitions the data computes today."""
        return self.definition.definitions_hash

    @property
    def horizon_days(self) -> int:
        """The label horizon: a prediction as of t is judged on (t, t + horizon]."""
        return self.definition.horizon_days

    def historical_features(self, entities: pd.DataFrame, *, engine: Engine) -> pd.DataFrame:
        """``entities`` (customer_id, as_of, ...) with every feature as known at its as_of."""
        return get_historical_features(entities, engine=engine, features=self.definition.features)

    @property
    @abstractmethod
    def source(self) -> str | None:
        """The declared source's name; None: the built-in sources."""

    @property
    @abstractmethod
    def ingestion_sources(self) -> tuple[str, ...]:
        """The ``ingestion_runs.source`` values of the model's data."""

    @property
    @abstractmethod
    def labels_unavailable(self) -> str | None:
        """Why predictions cannot be labelled (None: they can, once their horizon elapsed)."""

    @abstractmethod
    def watermark(self, *, engine: Engine) -> datetime | None:
        """The latest fact of the model's data: the "now" labels are judged against."""

    @abstractmethod
    def current_features(self, *, engine: Engine) -> OnlineFeatures:
        """Online feature vectors of the population at the latest data (unknown ids listed)."""

    @abstractmethod
    def labels(
        self,
        moments: Sequence[datetime],
        *,
        horizon_days: int,
        engine: Engine,
        now: datetime | None = None,
    ) -> pd.DataFrame:
        """customer_id, as_of, label of the population at each moment; LabelsUnavailableError when
        the data has no labels."""

    @abstractmethod
    def cutoffs(self, *, horizon_days: int, engine: Engine) -> list[datetime]:
        """Cutoffs whose horizon has elapsed (empty when the data has no labels)."""

    @abstractmethod
    def check_elapsed(
        self, cutoffs: Sequence[datetime], *, horizon_days: int, engine: Engine
    ) -> None:
        """ValueError naming the cutoffs whose horizon ends after the data's completeness clock
        (and the source that holds it back)."""


def is_builtin(model_name: str) -> bool:
    """Whether ``model_name`` is one of the built-in definitions (``tasks.definitions``)."""
    from tasks.definitions import builtin_definitions

    return model_name in builtin_definitions()


def model_data(model_name: str, *, engine: Engine, as_served: bool = False) -> ModelData:
    """The data of ``churn-model`` or of a declared source's ``churn-<name>`` (``as_served``: on
    the definitions its champion was trained on, see ``declared_data``).

    Raises LookupError, naming what to run, when ``churn-<name>``'s source was never ingested.
    """
    from tasks.definitions import get_definition
    from tasks.modeldata.builtin import BuiltinData
    from tasks.modeldata.declared import declared_data

    if is_builtin(model_name):
        return BuiltinData(get_definition(model_name))
    found = declared_data(model_name, engine=engine, as_served=as_served)
    if found is not None:
        return found
    raise LookupError(
        f"{model_name!r} is neither a built-in model ({DEFAULT_MODEL_NAME}, ...) nor the model of"
        " an ingested declared source; declare it with make declare SPEC=..."
        " (docs/declared-sources.md)"
    )
