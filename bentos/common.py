"""What the built-in and the declared-source services share: the baked model, the predictor, the
readiness check, ``/predict`` by id and the way requests are run and refused.

A subclass says where by-id features come from (``lookup``) and declares ``/predict_features``
with its own feature record; the two ``@bentoml.service`` classes are ``bentos.service`` (the
built-in sources) and ``bentos.source_service`` (a ``churn-<name>`` model of a declared source).
"""

from __future__ import annotations

import os

# libgomp reads this when xgboost loads: one OpenMP thread, the workers are the parallelism.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import logging
from typing import Any

import anyio.to_thread
import bentoml
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from bentos.baked import BakedModel, load_baked
from bentos.handlers import Lookup, Predictor
from bentos.metrics import create_metrics
from bentos.middleware import register_fast_path
from bentos.prediction_log import PredictionLogWriter
from bentos.readiness import Readiness
from bentos.schemas import PredictRequest, PredictResponse
from bentos.scoring import Scorer
from core.db import make_engine
from core.settings import get_settings
from tasks.features.lookup import StaleFeaturesError

log = logging.getLogger("bentos.service")
INLINE_MAX = 16  # items scored on the event loop; larger requests go to a worker thread
SERVICE_NAME = "churn-service"
# the @bentoml.service options of both services
SERVICE_CONFIG: dict[str, Any] = {
    "name": SERVICE_NAME,
    "workers": 2,
    "threads": 2,
    "traffic": {"timeout": 30},
    "logging": {"access": {"enabled": False}},
    # BentoML's request-metrics middleware costs ~15 % of a request; our own metrics
    # (bentos.metrics) count and time the prediction endpoints and /metrics serves them.
    "metrics": {"enabled": False},
    # No trace exporter is configured; excluding the prediction routes skips the per-request
    # OpenTelemetry span bookkeeping (~15% of a request's CPU). Drop this to trace them.
    "tracing": {"excluded_urls": ["/predict"]},
}


class ChurnServiceBase:
    """Model, store, predictor and readiness of one worker; ``/predict`` by id."""

    def __init__(self) -> None:
        baked = load_baked()
        settings = get_settings()
        self.baked = baked
        self.engine = make_engine(settings.database_url)
        self.scorer = scorer = Scorer.from_dir(baked.path)
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
            scorer,
            self.engine,
            baked.model_version,
            writer,
            metrics,
            lookup=self.lookup(baked, self.engine),
        )
        self.readiness = Readiness(self.engine, scorer.spec.definitions_hash, source=baked.source)
        register_fast_path("/predict", self._fast_predict)
        register_fast_path("/predict_features", self._fast_predict_features)
        log.info("serving %s (%s) on %s", baked.tag, baked.model_name, settings.database_url)

    def lookup(self, baked: BakedModel, engine: Engine) -> Lookup | None:
        """Where ``/predict`` finds features by id; None: the built-in online store."""
        return None

    async def _fast_predict_features(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict_features`` body answered directly; None else."""
        raise NotImplementedError

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

    async def _fast_predict(self, body: bytes) -> tuple[int, bytes] | None:
        """A valid ``/predict`` body answered without BentoML's request machinery; None else."""
        try:
            request = PredictRequest.model_validate_json(body)
        except ValueError:  # pydantic's ValidationError: BentoML's endpoint answers the 400
            return None
        return encode(await self._run(self.predictor.by_ids, request.customer_ids))

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


def encode(result: PredictResponse | Response) -> tuple[int, bytes]:
    """(status, JSON body) of a handler's result, for the middleware's fast path."""
    if isinstance(result, Response):
        return result.status_code, bytes(result.body)
    return 200, _RESPONSE_JSON(result)


_RESPONSE_JSON = PredictResponse.__pydantic_serializer__.to_json


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
