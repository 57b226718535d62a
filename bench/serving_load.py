"""A small HTTP/1.1 load generator for the serving benchmark (loopback only, bounded in time).

``python -m bench.serving_load --url http://127.0.0.1:3000/predict --bodies FILE -c 16 -d 10``
keeps ``c`` keep-alive connections busy for ``d`` seconds, each sending the next JSON body (one
per line of FILE, round robin) as soon as its previous answer arrived, and prints one JSON object:
requests, non-2xx, requests/s, p50/p99 latency. Raw asyncio streams instead of an HTTP client
library, so that the generator's own cost stays far below the server's on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _requests(url: str, bodies: list[bytes]) -> tuple[str, int, list[bytes]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    if host not in _LOOPBACK:
        raise SystemExit(f"refusing to load {host}: this generator only targets loopback")
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    )
    return host, port, [f"{head}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in bodies]


async def _connection(
    host: str, port: int, requests: list[bytes], offset: int, deadline: float, out: dict[str, list]
) -> None:
    cycle = itertools.islice(itertools.cycle(requests), offset, None)
    reader, writer = await asyncio.open_connection(host, port)
    latencies, statuses = out["latency"], out["status"]
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(next(cycle))
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                statuses.append(0)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
    finally:
        writer.close()


async def _run(
    url: str, bodies: list[bytes], connections: int, duration: float
) -> dict[str, float]:
    host, port, requests = _requests(url, bodies)
    out: dict[str, list] = {"latency": [], "status": []}
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_connection(host, port, requests, i, deadline, out) for i in range(connections))
    )
    elapsed = time.perf_counter() - started
    latency_ms = np.asarray(out["latency"]) * 1000
    statuses = np.asarray(out["status"])
    return {
        "requests": len(statuses),
        "non2xx": int(np.sum((statuses < 200) | (statuses >= 300))),
        "rps": float(np.sum((statuses >= 200) & (statuses < 300)) / elapsed),
        "p50_ms": float(np.percentile(latency_ms, 50)) if len(latency_ms) else float("nan"),
        "p99_ms": float(np.percentile(latency_ms, 99)) if len(latency_ms) else float("nan"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="loopback URL to POST to")
    parser.add_argument("--bodies", type=Path, required=True, help="JSON bodies, one per line")
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds (max 60)")
    args = parser.parse_args(argv)
    bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line.strip()]
    duration = min(args.duration, 60.0)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_run(args.url, bodies, args.connections, duration))))


if __name__ == "__main__":
    main()
