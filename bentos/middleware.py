"""One pure ASGI middleware in front of the prediction endpoints: JSON only, counted and timed.

BentoML would hand a ``multipart/form-data`` body to its form parser, and a malformed one ends as
a 500; the API is JSON, so any other declared content type is refused with 415 before parsing.
Every request to an endpoint (4xx included) is counted by status and timed (``bentos.metrics``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bentos.metrics import current_metrics

ENDPOINTS = frozenset({"/predict", "/predict_features"})
_JSON = b"application/json"


class PredictionEndpointsMiddleware:
    """Refuse non-JSON bodies with 415; count and time every prediction request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ENDPOINTS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            content_type = _content_type(scope)
            if content_type is not None and content_type != _JSON:
                await _refuse(send_wrapper, content_type)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            metrics = current_metrics()
            if metrics is not None:
                metrics.latency.labels(path).observe(time.perf_counter() - started)
                metrics.requests.labels(path, str(status), metrics.model_version).inc()


def _content_type(scope: Scope) -> bytes | None:
    """The media type of the request body (lower case, no parameters); None when absent."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return None


async def _refuse(send: Any, content_type: bytes) -> None:
    body = json.dumps(
        {
            "error": f"Content-Type {content_type.decode(errors='replace')!r} is not supported: "
            "send the request body as application/json"
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 415,
            "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
