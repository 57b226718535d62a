"""The service's own Prometheus metrics, exposed on ``/metrics`` next to BentoML's.

Created in the service's ``__init__``, not at import: BentoML sets ``PROMETHEUS_MULTIPROC_DIR``
in each worker after importing the service module, and prometheus_client picks its multiprocess
storage when it is imported, so the import happens inside :func:`create_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


@dataclass(frozen=True)
class ServiceMetrics:
    model_version: str
    requests: Any  # Counter(endpoint, status, model_version)
    latency: Any  # Histogram(endpoint)
    scores: Any  # Histogram(endpoint, model_version)
    unknown_ids: Any  # Counter(model_version)
    model_info: Any  # Gauge(model_version, definitions_hash)
    log_dropped: Any  # Counter
    log_queue: Any  # Gauge


_METRICS: ServiceMetrics | None = None


def create_metrics(*, model_version: str, definitions_hash: str) -> ServiceMetrics:
    """The metric objects (once per process), with the model-info gauge set."""
    global _METRICS
    if _METRICS is None:
        import prometheus_client as prom

        _METRICS = ServiceMetrics(
            model_version=model_version,
            requests=prom.Counter(
                "churn_requests",
                "Prediction requests by endpoint, HTTP status and model version",
                ["endpoint", "status", "model_version"],
            ),
            latency=prom.Histogram(
                "churn_request_latency_seconds",
                "Prediction request latency inside the server, by endpoint",
                ["endpoint"],
                buckets=LATENCY_BUCKETS,
            ),
            scores=prom.Histogram(
                "churn_score",
                "Predicted churn probabilities",
                ["endpoint", "model_version"],
                buckets=SCORE_BUCKETS,
            ),
            unknown_ids=prom.Counter(
                "churn_unknown_customers",
                "Requested ids absent from the online store",
                ["model_version"],
            ),
            model_info=prom.Gauge(
                "churn_model_info",
                "The model version this service serves (value 1)",
                ["model_version", "definitions_hash"],
                multiprocess_mode="max",
            ),
            log_dropped=prom.Counter(
                "churn_prediction_log_dropped",
                "Predictions not logged because the prediction-log queue was full",
            ),
            log_queue=prom.Gauge(
                "churn_prediction_log_queue",
                "Predictions waiting to be written to prediction_log",
                multiprocess_mode="livesum",
            ),
        )
    _METRICS.model_info.labels(model_version, definitions_hash).set(1)
    return _METRICS


def current_metrics() -> ServiceMetrics | None:
    """This process's metrics, once the service created them."""
    return _METRICS
