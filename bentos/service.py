"""The churn prediction service: one BentoML service for every model, the model baked in.

What the bento was built for (``bentos.baked``) says which data it serves: a built-in model reads
the catalog's view of the online store and takes the catalog's feature record; a declared
source's ``churn-<name>`` reads its source's view and takes a record generated at start from the
feature types baked into the bento. Either way: ``POST /predict`` scores customers by id from the
model's view (refusing rows of other definitions than the model's), ``POST /predict_features``
scores raw feature records (unknown or invalid fields: a 400 naming the field). ``/livez``,
``/readyz`` (503 until the model's feature definitions match its view's rows) come from BentoML
plus the hooks here, ``/metrics`` from ``bentos.middleware``. Valid prediction requests are
answered by the middleware's fast path (handlers registered at start); BentoML's endpoints answer
the rest, bad input included, and define the OpenAPI.

The APIs are async and score small requests inline on the event loop (XGBoost takes well under
a millisecond for a row, less than a hop to a thread pool); big batches go to a thread. Two worker
processes use both cores; XGBoost runs one thread per call.
"""

from __future__ import annotations

import os

# libgomp reads this when xgboost loads: one OpenMP thread, the workers are the parallelism.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import logging
from typing import Any

import anyio.to_thread
import bentoml
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from bentos.baked import BakedModel, load_baked
from bentos.handlers import Predictor
from bentos.metrics import create_metrics
from bentos.middleware import (
    PredictionEndpointsMiddleware,
    register_fast_path,
    set_body_timeout,
)
from bentos.prediction_log import PredictionLogWriter
from bentos.readiness import Readiness
from bentos.schemas import (
    FeatureRecordsRequest,
    PredictFeaturesRequest,
    PredictRequest,
    PredictResponse,
    feature_record_model,
    features_request_model,
)
from bentos.scoring import Scorer
from core.db import make_engine
from core.settings import get_settings
from models.preprocessing import FeatureSpec
from tasks.features.lookup import OnlineView, StaleFeaturesError, builtin_view

__all__ = ["SERVICE_NAME", "ChurnService"]

log = logging.getLogger("bentos.service")
INLINE_MAX = 16  # items scored on the event loop; larger requests go to a worker thread
SERVICE_NAME = "churn-service"


@bentoml.service(
    name=SERVICE_NAME,
    workers=2,
    threads=2,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
    # BentoML's request-metrics middleware costs ~15 % of a request; our own metrics
    # (bentos.metrics) count and time the prediction endpoints and /metrics serves them.
    metrics={"enabled": False},
    # No trace exporter is configured; excluding the prediction routes skips the per-request
    # OpenTelemetry span bookkeeping (~15% of a request's CPU). Drop this to trace them.
    tracing={"excluded_urls": ["/predict"]},
)
class ChurnService:
    """Churn probability, risk band and top reasons per customer."""

    def __init__(self) -> None:
        baked = load_baked()
        settings = get_settings()
        self.baked = baked
        self.engine = make_engine(settings.database_url)
        self.scorer = scorer = Scorer.from_dir(baked.path)
        view, self.request_model = _view_and_record(baked, scorer.spec)
        metrics = create_metrics(
            model_version=baked.model_version, definitions_hash=scorer.spec.definitions_hash
        )
        writer = PredictionLogWriter(
            self.engine,
            model_name=baked.model_name,
            on_drop=metrics.log_dropped.inc,
            on_depth=metrics.log_queue.set,
        )
        self.predictor = Predictor(
            scorer, self.engine, baked.model_version, writer, metrics, view=view
        )
        self.readiness = Readiness(self.engine, view)
        set_body_timeout(settings.body_timeout_s)
        register_fast_path("/predict", self._fast_predict)
        register_fast_path("/predict_features", self._fast_predict_features)
        log.info(
            "serving %s (%s, view %r) on %s",
            baked.tag,
            baked.model_name,
            view.name,
            settings.database_url,
        )

    def __is_ready__(self) -> bool:
        return self.readiness.check()

    @bentoml.on_shutdown
    def flush_prediction_log(self) -> None:
        """Write every queued prediction before the worker exits (SIGTERM included)."""
        self.predictor.log_writer.close()
        self.engine.dispose()

    @bentoml.api(route="/predict", input_spec=PredictRequest, output_spec=PredictResponse)
    async def predict(self, customer_ids: list[str]) -> PredictResponse | Response:
        """Score customers by id from the online store; unknown ids are reported per item."""
        return await self._run(self.predictor.by_ids, customer_ids)

    @bentoml.api(
        route="/predict_features", input_spec=FeatureRecordsRequest, output_spec=PredictResponse
    )
    async def predict_features(self, records: list[Any]) -> PredictResponse | Response:
        """Score raw feature records of the model's features (what-if analysis, batch callers)."""
        # a ValidationError here is BentoML's 400 naming the field
        request = self.request_model.model_validate({"records": records})
        return await self._run(self.predictor.by_features, _records(request))

    async def _fast_predict(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict`` body answered without BentoML's request machinery; None else."""
        try:
            request = PredictRequest.model_validate_json(body)
        except ValueError:  # pydantic's ValidationError: BentoML's endpoint answers the 400
            return None
        return encode(await self._run(self.predictor.by_ids, request.customer_ids))

    async def _fast_predict_features(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict_features`` body answered directly; None else."""
        try:
            request = self.request_model.model_validate_json(body)
        except ValueError:
            return None
        return encode(await self._run(self.predictor.by_features, _records(request)))

    async def _run(self, handler: Any, items: list[Any]) -> PredictResponse | Response:
        if not self.readiness.check():
            return _error(503, f"service not ready: {self.readiness.problem}")
        try:
            if len(items) <= INLINE_MAX:
                result: PredictResponse = handler(items)
            else:
                result = await anyio.to_thread.run_sync(handler, items)
        except StaleFeaturesError as exc:
            return _error(503, str(exc))
        except SQLAlchemyError as exc:
            log.error("feature store error: %s", exc)
            return _error(503, f"online feature store unavailable: {type(exc).__name__}")
        return result


def _view_and_record(baked: BakedModel, spec: FeatureSpec) -> tuple[OnlineView, type[BaseModel]]:
    """The model's view of the online store and its ``/predict_features`` request model: the
    catalog's for a built-in model (a bento of the code before views included), else the
    declared source's, from the feature types baked into the bento."""
    if baked.source is None:
        catalog = builtin_view()
        return OnlineView(
            catalog.name, catalog.dtypes, spec.definitions_hash
        ), PredictFeaturesRequest
    if not baked.feature_dtypes or list(baked.feature_dtypes) != list(spec.names):
        raise RuntimeError(
            f"{baked.model_name} v{baked.model_version}: baked feature types"
            f" {list(baked.feature_dtypes or {})} differ from the model's features"
            f" {list(spec.names)}; rebuild the bento"
        )
    record = feature_record_model(
        baked.feature_dtypes,
        spec.categories,
        name=f"{baked.source}FeatureRecord",
        bounds=baked.feature_bounds,
    )
    view = OnlineView(baked.source, baked.feature_dtypes, spec.definitions_hash)
    return view, features_request_model(record, name=f"{baked.source}PredictFeaturesRequest")


def _records(request: Any) -> list[dict[str, Any]]:
    return [vars(r) for r in request.records]


def encode(result: PredictResponse | Response) -> tuple[int, bytes]:
    """(status, JSON body) of a handler's result, for the middleware's fast path."""
    if isinstance(result, Response):
        return result.status_code, bytes(result.body)
    return 200, _RESPONSE_JSON(result)


_RESPONSE_JSON = PredictResponse.__pydantic_serializer__.to_json


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


ChurnService.add_asgi_middleware(PredictionEndpointsMiddleware)  # type: ignore[attr-defined]
