"""Prediction log writer: requests enqueue rows, one background thread inserts them in batches.

Every row is stamped with the served model's name (``churn-model`` or a declared source's
``churn-<name>``): monitoring reads only its own model's predictions from the shared table.

A request never waits on the database. The queue is bounded: when it is full the rows are dropped
and counted (``on_drop``) and a warning is logged, instead of blocking the request or growing
without limit. ``close()`` (the service's shutdown hook) drains and writes everything queued.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.tables import prediction_log

log = logging.getLogger(__name__)
_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class PredictionLogWriter:
    """Bounded buffer + batch inserts into ``prediction_log`` on a daemon thread.

    The writer wakes every ``flush_interval_s`` and drains the buffer, instead of being woken by
    each request: a per-request thread wake-up costs the request a GIL hand-over.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        model_name: str,
        max_queue: int = 50_000,
        batch_size: int = 1000,
        flush_interval_s: float = 0.2,
        on_drop: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self.model_name = model_name
        self._buffer: deque[dict[str, Any]] = deque()
        self.max_queue = max_queue
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._on_drop = on_drop
        self._on_depth = on_depth
        self._stop = threading.Event()
        self._last_drop_log = 0.0
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue rows without blocking; return how many were dropped because the queue was full."""
        room = self.max_queue - len(self._buffer)
        accepted = rows if len(rows) <= room else rows[: max(room, 0)]
        self._buffer.extend(accepted)  # deque appends are atomic: no lock on the request path
        dropped = len(rows) - len(accepted)
        if dropped:
            self._dropped(dropped)
        return dropped

    def depth(self) -> int:
        """Rows waiting to be written."""
        return len(self._buffer)

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the thread."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("prediction log: %d rows still unwritten after %.0f s", self.depth(), timeout)
        else:
            log.info(
                "prediction log closed: %d rows written, %d dropped", self.written, self.dropped
            )

    def _dropped(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)
        now = time.monotonic()
        if now - self._last_drop_log > 5:  # one line per 5 s; the metric counts every row
            self._last_drop_log = now
            log.warning(
                "prediction log queue full (%d rows): dropped %d predictions (%d in total); "
                "the database is too slow or down",
                self.max_queue,
                count,
                self.dropped,
            )

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            while self._buffer:
                batch = [
                    self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))
                ]
                self._write(batch)
            if self._on_depth is not None:
                self._on_depth(len(self._buffer))
            if stopping:  # requests have stopped before shutdown hooks run: nothing new arrives
                return

    def _write(self, batch: list[dict[str, Any]]) -> None:
        # serialized and stamped here, off the request path
        batch = [
            {
                **row,
                "model_name": self.model_name,
                "features": row["features"]
                if isinstance(row["features"], str)
                else json.dumps(row["features"]),
            }
            for row in batch
        ]
        for attempt, delay in enumerate((*_RETRY_DELAYS, None), start=1):
            try:
                with self._engine.begin() as conn:
                    conn.execute(prediction_log.insert(), batch)
                self.written += len(batch)
                return
            except SQLAlchemyError as exc:
                if delay is None:
                    log.error(
                        "prediction log: lost %d rows after %d attempts: %s",
                        len(batch),
                        attempt,
                        exc,
                    )
                    return
                log.warning("prediction log write failed (attempt %d), retrying: %s", attempt, exc)
                time.sleep(delay)
