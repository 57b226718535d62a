"""What the two prediction endpoints do, without BentoML: look up or take features, score,
build the response, queue the log rows. The service class only wires these to HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bentos.metrics import ServiceMetrics
from bentos.prediction_log import PredictionLogWriter
from bentos.schemas import REASONS, UNKNOWN_CUSTOMER, Prediction, PredictResponse, Reason
from bentos.scoring import Scorer
from core.names import utc_now
from models.risk import risk_band
from tasks.features.lookup import OnlineView, lookup_online_rows


@dataclass(frozen=True)
class Predictor:
    """Everything a request needs, built once per worker."""

    scorer: Scorer
    engine: Engine
    model_version: str
    log_writer: PredictionLogWriter
    metrics: ServiceMetrics
    view: OnlineView  # the model's rows of the online store

    def by_ids(self, customer_ids: Sequence[str]) -> PredictResponse:
        """Score customers from the online store; unknown ids get an error item each."""
        rows = lookup_online_rows(customer_ids, engine=self.engine, view=self.view)
        known = [cid for cid in customer_ids if cid in rows]
        unknown = len(customer_ids) - len(known)
        if unknown:
            self.metrics.unknown_ids.labels(self.model_version).inc(unknown)
        features = [rows[cid]["features"] for cid in known]
        scored = self._score(
            features, "/predict", ids=known, as_of=[rows[c]["as_of"] for c in known]
        )
        by_id = dict(zip(known, scored.predictions, strict=True))
        predictions = [
            by_id.get(cid)
            or Prediction.model_construct(
                customer_id=cid,
                model_version=self.model_version,
                error=UNKNOWN_CUSTOMER,
                probability=None,
                risk_band=None,
                reasons=[],
                as_of=None,
            )
            for cid in customer_ids
        ]
        return PredictResponse.model_construct(
            request_id=scored.request_id, model_version=self.model_version, predictions=predictions
        )

    def by_features(self, records: Sequence[Mapping[str, Any]]) -> PredictResponse:
        """Score feature records as given; their as_of is the request time."""
        now = utc_now()
        return self._score(records, "/predict_features", ids=None, as_of=[now] * len(records))

    def _score(
        self,
        features: Sequence[Mapping[str, Any]],
        endpoint: str,
        *,
        ids: Sequence[str] | None,
        as_of: Sequence[datetime],
    ) -> PredictResponse:
        request_id = uuid.uuid4().hex
        predictions: list[Prediction] = []
        if features:
            scored = self.scorer.score(self.scorer.matrix(features), top_k=REASONS)
            now = utc_now()
            log_rows = []
            histogram = self.metrics.scores.labels(endpoint, self.model_version)
            for i, probability in enumerate(scored.probabilities.tolist()):
                cid = ids[i] if ids is not None else None
                histogram.observe(probability)
                predictions.append(
                    Prediction.model_construct(
                        customer_id=cid,
                        probability=probability,
                        risk_band=risk_band(probability),
                        reasons=[
                            Reason.model_construct(feature=f, contribution=c)
                            for f, c in scored.reasons[i]
                        ],
                        model_version=self.model_version,
                        as_of=as_of[i] if ids is not None else None,
                        error=None,
                    )
                )
                log_rows.append(
                    {
                        "request_id": request_id,
                        "customer_id": cid,
                        "features": features[i],
                        "score": probability,
                        "model_version": self.model_version,
                        "definitions_hash": self.scorer.spec.definitions_hash,
                        "predicted_at": now,
                        "as_of": as_of[i],
                        "kind": "predict" if ids is not None else "what_if",
                    }
                )
            self.log_writer.submit(log_rows)
        return PredictResponse.model_construct(
            request_id=request_id, model_version=self.model_version, predictions=predictions
        )
