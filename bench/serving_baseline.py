"""The serving benchmark's baseline: what a team would write by hand with FastAPI + uvicorn.

One sync endpoint (FastAPI runs it in its thread pool), the same pydantic request model, the same
numpy conversion and the same booster as the service (probability + top-3 reasons), uvicorn's
default single worker. No prediction log, no metrics: the baseline only scores.
``python -m bench.serving_baseline --model-dir DIR --port PORT``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path
from typing import Any

from bentos.schemas import REASONS, PredictFeaturesRequest
from bentos.scoring import Scorer
from models.risk import risk_band


def create_app(model_dir: Path) -> Any:
    """A FastAPI app with one sync ``POST /predict_features``."""
    from fastapi import FastAPI

    scorer = Scorer.from_dir(model_dir)
    app = FastAPI()

    @app.post("/predict_features")
    def predict_features(request: PredictFeaturesRequest) -> dict[str, Any]:
        rows = [vars(record) for record in request.records]
        scored = scorer.score(scorer.matrix(rows), top_k=REASONS)
        return {
            "predictions": [
                {
                    "probability": p,
                    "risk_band": risk_band(p),
                    "reasons": [{"feature": f, "contribution": c} for f, c in reasons],
                }
                for p, reasons in zip(scored.probabilities.tolist(), scored.reasons, strict=True)
            ]
        }

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True, help="booster + feature spec")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.model_dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
