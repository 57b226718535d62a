"""The churn prediction service of the built-in sources: one BentoML service, the model baked in.

``POST /predict`` scores customers by id from the online feature store, ``POST /predict_features``
scores raw feature records. ``/livez``, ``/readyz`` (503 until the model's feature definitions
match the store's) come from BentoML plus the hooks in ``bentos.common``, ``/metrics`` from
``bentos.middleware``. Valid prediction requests are answered by the middleware's fast path
(handlers registered at start); BentoML's endpoints answer the rest, bad input included, and
define the OpenAPI.

The APIs are async and score small requests inline on the event loop (XGBoost takes well under
a millisecond for a row, less than a hop to a thread pool); big batches go to a thread. Two worker
processes use both cores; XGBoost runs one thread per call.
"""

from __future__ import annotations

from typing import Any

import bentoml
from starlette.responses import Response

from bentos.common import SERVICE_CONFIG, SERVICE_NAME, ChurnServiceBase, encode
from bentos.middleware import PredictionEndpointsMiddleware
from bentos.schemas import PredictFeaturesRequest, PredictResponse

__all__ = ["SERVICE_NAME", "ChurnService"]


@bentoml.service(**SERVICE_CONFIG)
class ChurnService(ChurnServiceBase):
    """Churn probability, risk band and top reasons per customer."""

    def __init__(self) -> None:
        super().__init__()
        if self.baked.source is not None:
            raise RuntimeError(
                f"{self.baked.model_name} is a model of declared source {self.baked.source!r}; "
                "it is served by bentos.source_service (build its bento with tasks.deploy)"
            )

    @bentoml.api(
        route="/predict_features", input_spec=PredictFeaturesRequest, output_spec=PredictResponse
    )
    async def predict_features(self, records: list[Any]) -> PredictResponse | Response:
        """Score raw feature records (what-if analysis, batch callers)."""
        return await self._run(self.predictor.by_features, [vars(r) for r in records])

    async def _fast_predict_features(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict_features`` body answered directly; None else."""
        try:
            request = PredictFeaturesRequest.model_validate_json(body)
        except ValueError:
            return None
        records = [vars(r) for r in request.records]
        return encode(await self._run(self.predictor.by_features, records))


ChurnService.add_asgi_middleware(PredictionEndpointsMiddleware)  # type: ignore[attr-defined]
