"""Helpers shared by the benchmarks: one JSON line per figure, peak memory."""

from __future__ import annotations

import json
import resource
import sys


def emit(name: str, value: float, unit: str, **extra: object) -> None:
    """Print one figure as a JSON line, e.g. {"name": "ingest.rows_per_s.sqlite", ...}."""
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit, **extra}))
    sys.stdout.flush()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
