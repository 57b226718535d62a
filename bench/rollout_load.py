"""A strict load client for rollouts: every failure counts, nothing is retried (loopback only).

``python -m bench.rollout_load --url http://127.0.0.1:3000/predict --bodies FILE -c 16 -d 30``
keeps ``c`` keep-alive connections busy for ``d`` seconds, each sending the next JSON body as
soon as its previous answer arrived. A request fails on a connection error, no complete answer
within ``--timeout`` seconds, or a non-2xx status; after a failure the connection is opened
again (the failed request is not sent again). Prints one JSON object: requests, failed (by
kind), the wall-clock time of the first answer from each ``model_version`` (``first_seen``) and
the longest time without any successful answer (``max_gap_s``) and every change of the answering
version (``changes``: time, version). SIGTERM ends the run early.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import time
from pathlib import Path

from bench.serving_load import _requests

MARK = b'"model_version":"'


class Tally:
    """What the connections saw, shared by all of them (one event loop)."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = {"connection": 0, "timeout": 0, "non2xx": 0}
        self.first_seen: dict[str, float] = {}
        self.last_ok = time.time()
        self.max_gap_s = 0.0

        self.changes: list[tuple[float, str]] = []  # (time, version) when it changed
        self.stopping = False

    def ok(self, body: bytes) -> None:
        now = time.time()
        self.max_gap_s = max(self.max_gap_s, now - self.last_ok)
        self.last_ok = now
        start = body.find(MARK)
        if start >= 0:
            start += len(MARK)
            version = body[start : body.index(b'"', start)].decode()
            self.first_seen.setdefault(version, now)
            if (not self.changes or self.changes[-1][1] != version) and len(self.changes) < 10000:
                self.changes.append((round(now, 3), version))


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return int(head[9:12]), await reader.readexactly(length) if length else b""


async def _connection(
    host: str, port: int, requests: list[bytes], offset: int, deadline: float, tally: Tally,
    timeout: float,
) -> None:  # fmt: skip
    cycle = itertools.islice(itertools.cycle(requests), offset, None)
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < deadline and not tally.stopping:
        tally.requests += 1
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            status, body = await asyncio.wait_for(_exchange(*conn, next(cycle)), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            tally.failed["timeout" if isinstance(exc, TimeoutError) else "connection"] += 1
            if conn is not None:
                conn[1].close()
            conn = None
            await asyncio.sleep(0.01)  # a refused connection fails at once: do not spin
            continue
        if 200 <= status < 300:
            tally.ok(body)
        else:
            tally.failed["non2xx"] += 1
    if conn is not None:
        conn[1].close()


async def run_load(
    url: str, bodies: list[bytes], connections: int, duration: float, timeout: float
) -> dict[str, object]:
    """Run the load; the tally as a JSON-ready dict."""
    host, port, requests = _requests(url, bodies)
    tally = Tally()
    deadline = time.monotonic() + duration
    # SIGTERM ends the run early (each connection finishes the request it is in)
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, lambda: setattr(tally, "stopping", True)
    )
    await asyncio.gather(
        *(
            _connection(host, port, requests, i, deadline, tally, timeout)
            for i in range(connections)
        )
    )
    tally.max_gap_s = max(tally.max_gap_s, time.time() - tally.last_ok)
    return {
        "requests": tally.requests,
        "failed": sum(tally.failed.values()),
        "failed_by_kind": tally.failed,
        "first_seen": tally.first_seen,
        "changes": tally.changes,
        "max_gap_s": round(tally.max_gap_s, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="loopback URL to POST to")
    parser.add_argument("--bodies", type=Path, required=True, help="JSON bodies, one per line")
    parser.add_argument("-c", "--connections", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=30.0, help="seconds (max 300)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    args = parser.parse_args(argv)
    bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line.strip()]
    duration = min(args.duration, 300.0)
    result = asyncio.run(run_load(args.url, bodies, args.connections, duration, args.timeout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
