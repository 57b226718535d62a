"""The churn prediction service of a declared source's model (``churn-<name>``, docs/your-data.md).

The same endpoints, probes and metrics as ``bentos.service``, on that source's data: ``/predict``
looks features up by id in the source's rows of ``source_online_features`` (refusing rows built
from other definitions than the model's), ``/readyz`` waits for those rows to carry the model's
definitions hash, and ``/predict_features`` takes the source's feature record, generated at start
from the feature types baked into the bento (unknown fields refused, a 400 naming the field).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import bentoml
from sqlalchemy import Engine
from starlette.responses import Response

from bentos.baked import BakedModel
from bentos.common import SERVICE_CONFIG, ChurnServiceBase, encode
from bentos.handlers import Lookup
from bentos.middleware import PredictionEndpointsMiddleware
from bentos.schemas import (
    PredictResponse,
    SourcePredictFeaturesRequest,
    feature_record_model,
    features_request_model,
)
from tasks.owndata.lookup import lookup_source_rows


@bentoml.service(**SERVICE_CONFIG)
class SourceChurnService(ChurnServiceBase):
    """Churn probability, risk band and top reasons per customer of a declared source."""

    def __init__(self) -> None:
        super().__init__()
        baked = self.baked
        if baked.source is None or not baked.feature_dtypes:
            raise RuntimeError(
                f"{baked.model_name} v{baked.model_version} carries no declared source; "
                "a built-in model is served by bentos.service"
            )
        spec = self.scorer.spec
        if list(baked.feature_dtypes) != list(spec.names):
            raise RuntimeError(
                f"{baked.model_name}: baked feature types {list(baked.feature_dtypes)} differ"
                f" from the model's features {list(spec.names)}; rebuild the bento"
            )
        record = feature_record_model(
            baked.feature_dtypes, spec.categories, name=f"{baked.source}FeatureRecord"
        )
        self.request_model = features_request_model(
            record, name=f"{baked.source}PredictFeaturesRequest"
        )

    def lookup(self, baked: BakedModel, engine: Engine) -> Lookup | None:
        """The source's online rows, checked against the model's definitions hash."""
        return partial(
            lookup_source_rows,
            str(baked.source),
            engine=engine,
            definitions_hash=baked.definitions_hash,
        )

    @bentoml.api(
        route="/predict_features",
        input_spec=SourcePredictFeaturesRequest,
        output_spec=PredictResponse,
    )
    async def predict_features(self, records: list[Any]) -> PredictResponse | Response:
        """Score raw feature records of the source (what-if analysis, batch callers)."""
        # a ValidationError here is BentoML's 400 naming the field, like a bad built-in record
        request = self.request_model.model_validate({"records": records})
        return await self._run(self.predictor.by_features, _records(request))

    async def _fast_predict_features(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict_features`` body answered directly; None else."""
        try:
            request = self.request_model.model_validate_json(body)
        except ValueError:
            return None
        return encode(await self._run(self.predictor.by_features, _records(request)))


def _records(request: Any) -> list[dict[str, Any]]:
    return [vars(r) for r in request.records]


SourceChurnService.add_asgi_middleware(PredictionEndpointsMiddleware)  # type: ignore[attr-defined]
