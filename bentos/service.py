"""The churn prediction service: one BentoML service, the model baked into its bento.

``POST /predict`` scores customers by id from the online feature store, ``POST /predict_features``
scores raw feature records. ``/livez``, ``/readyz`` (503 until the model's feature definitions
match the store's) and ``/metrics`` come from BentoML plus the hooks below.

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
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from bentos.baked import load_baked
from bentos.handlers import Predictor
from bentos.metrics import create_metrics
from bentos.middleware import PredictionEndpointsMiddleware
from bentos.prediction_log import PredictionLogWriter
from bentos.readiness import Readiness
from bentos.schemas import PredictFeaturesRequest, PredictRequest, PredictResponse
from bentos.scoring import Scorer
from core.db import make_engine
from core.settings import get_settings
from tasks.features.lookup import StaleFeaturesError

log = logging.getLogger("bentos.service")
INLINE_MAX = 16  # items scored on the event loop; larger requests go to a worker thread
SERVICE_NAME = "churn-service"


@bentoml.service(
    name=SERVICE_NAME,
    workers=2,
    threads=2,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
    # No trace exporter is configured; excluding the prediction routes skips the per-request
    # OpenTelemetry span bookkeeping (~15% of a request's CPU). Drop this to trace them.
    tracing={"excluded_urls": ["/predict"]},
)
class ChurnService:
    """Churn probability, risk band and top reasons per customer."""

    def __init__(self) -> None:
        baked = load_baked()
        settings = get_settings()
        self.engine = make_engine(settings.database_url)
        scorer = Scorer.from_dir(baked.path)
        metrics = create_metrics(
            model_version=baked.model_version, definitions_hash=scorer.spec.definitions_hash
        )
        writer = PredictionLogWriter(
            self.engine, on_drop=metrics.log_dropped.inc, on_depth=metrics.log_queue.set
        )
        self.predictor = Predictor(scorer, self.engine, baked.model_version, writer, metrics)
        self.readiness = Readiness(self.engine, scorer.spec.definitions_hash)
        log.info("serving %s (%s) on %s", baked.tag, baked.model_name, settings.database_url)

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
        route="/predict_features", input_spec=PredictFeaturesRequest, output_spec=PredictResponse
    )
    async def predict_features(self, records: list[Any]) -> PredictResponse | Response:
        """Score raw feature records (what-if analysis, batch callers)."""
        return await self._run(self.predictor.by_features, [vars(r) for r in records])

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


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


ChurnService.add_asgi_middleware(PredictionEndpointsMiddleware)  # type: ignore[attr-defined]
