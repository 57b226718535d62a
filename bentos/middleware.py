"""One pure ASGI middleware in front of the prediction endpoints and ``/metrics``.

* JSON only: BentoML would hand a ``multipart/form-data`` body to its form parser, and a malformed
  one ends as a 500; the API is JSON, so any other declared content type is refused with 415.
* Fast path: the service registers, per endpoint, a handler that takes the raw body and returns
  ``(status, JSON body)``, or ``None`` when the body does not validate. A valid request is answered
  here, without BentoML's request context, routing, I/O descriptors and response objects (about
  half of a single-record request's CPU). Anything else (bad input, the same body replayed) goes
  on to BentoML's endpoint, which validates it again and answers with its 400 naming the field.
* A slow client: a body not received within ``CHURN_BODY_TIMEOUT_S`` (10 s) is answered 408
  (Request Timeout) and the connection closed, before BentoML's 30 s request timeout would answer
  504 as if the service were at fault.
* Every request to an endpoint (4xx included) is counted by status and timed (``bentos.metrics``).
* ``/metrics``: the service turns BentoML's metrics middleware off (it costs ~15 % of a request)
  and with it BentoML's ``/metrics`` route; this serves the Prometheus text of all workers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bentos.metrics import current_metrics, render_metrics

ENDPOINTS = frozenset({"/predict", "/predict_features"})
METRICS_PATH = "/metrics"
_JSON = b"application/json"
_SERVER = (b"server", b"BentoML Service/churn-service")

FastHandler = Callable[[bytes], Awaitable[tuple[int, bytes] | None]]
_FAST_PATHS: dict[str, FastHandler] = {}
_BODY_TIMEOUT_S = [10.0]  # set at service start (set_body_timeout)


def set_body_timeout(seconds: float) -> None:
    """How long a prediction request's body may take to arrive (once per worker, at start)."""
    _BODY_TIMEOUT_S[0] = seconds


def register_fast_path(path: str, handler: FastHandler) -> None:
    """Answer valid requests to ``path`` with ``handler`` (once per worker, at service start)."""
    if path not in ENDPOINTS:
        raise ValueError(f"{path} is not a prediction endpoint ({sorted(ENDPOINTS)})")
    _FAST_PATHS[path] = handler


class PredictionEndpointsMiddleware:
    """Refuse non-JSON bodies with 415; answer valid requests directly; count and time them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ENDPOINTS:
            if scope["type"] == "http" and scope["path"] == METRICS_PATH:
                await _send_metrics(send)
            else:
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
                await _send_json(send_wrapper, 415, _unsupported(content_type))
                return
            handler = _FAST_PATHS.get(path)
            if handler is None or scope["method"] != "POST":
                await self.app(scope, receive, send_wrapper)
                return
            try:
                with anyio.fail_after(_BODY_TIMEOUT_S[0]):
                    body = await _read_body(receive)
            except TimeoutError:
                await _send_json(send_wrapper, 408, _too_slow(), close=True)
                return
            answer = await handler(body)
            if answer is None:
                await self.app(scope, _replay(body, receive), send_wrapper)
            else:
                await _send_json(send_wrapper, *answer)
        finally:
            metrics = current_metrics()
            if metrics is not None:
                metrics.latency.labels(path).observe(time.perf_counter() - started)
                metrics.requests.labels(path, str(status), metrics.model_version).inc()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # client went away: nothing to answer
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _content_type(scope: Scope) -> bytes | None:
    """The media type of the request body (lower case, no parameters); None when absent."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return None


def _unsupported(content_type: bytes) -> bytes:
    return json.dumps(
        {
            "error": f"Content-Type {content_type.decode(errors='replace')!r} is not supported: "
            "send the request body as application/json"
        }
    ).encode()


def _too_slow() -> bytes:
    return json.dumps(
        {
            "error": f"the request body did not arrive within {_BODY_TIMEOUT_S[0]:g} s; send it"
            " whole (CHURN_BODY_TIMEOUT_S sets the limit)"
        }
    ).encode()


async def _send_json(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()), _SERVER]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"connection", b"close")] if close else headers,
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_metrics(send: Send) -> None:
    body, content_type = await anyio.to_thread.run_sync(render_metrics)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
