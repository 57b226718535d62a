"""Prediction log writer: requests enqueue rows, one background thread inserts them in batches.

A request never waits on the database. The queue is bounded: when it is full the rows are dropped
and counted (``on_drop``) and a warning is logged, instead of blocking the request or growing
without limit. ``close()`` (the service's shutdown hook) drains and writes everything queued.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.tables import prediction_log

log = logging.getLogger(__name__)
_STOP = object()
_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class PredictionLogWriter:
    """Bounded queue + batch inserts into ``prediction_log`` on a daemon thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 50_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._on_drop = on_drop
        self._last_drop_log = 0.0
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue rows without blocking; return how many were dropped because the queue was full."""
        dropped = 0
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                dropped += 1
        if dropped:
            self.dropped += dropped
            if self._on_drop is not None:
                self._on_drop(dropped)
            now = time.monotonic()
            if now - self._last_drop_log > 5:  # one line per 5 s, the metric counts every row
                self._last_drop_log = now
                log.warning(
                    "prediction log queue full (%d rows): dropped %d predictions (%d in total); "
                    "the database is too slow or down",
                    self._queue.maxsize,
                    dropped,
                    self.dropped,
                )
        return dropped

    def depth(self) -> int:
        """Rows waiting to be written."""
        return self._queue.qsize()

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the thread."""
        self._queue.put(_STOP)  # blocks only if full, while the thread is draining it
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("prediction log: %d rows still unwritten after %.0f s", self.depth(), timeout)
        else:
            log.info("prediction log closed: %d rows written, %d dropped", self.written, self.dropped)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            try:
                item = self._queue.get(timeout=self._interval)
            except queue.Empty:
                continue
            deadline = time.monotonic() + self._interval
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)
                if stopping or len(batch) >= self._batch_size:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if stopping:  # take whatever is still queued (nothing new arrives after close)
                while True:
                    try:
                        leftover = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if leftover is not _STOP:
                        batch.append(leftover)
            if batch:
                self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        # serialized here, off the request path
        batch = [
            row if isinstance(row["features"], str) else {**row, "features": json.dumps(row["features"])}
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
