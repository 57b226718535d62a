"""Prometheus text exposition (format 0.0.4) of a monitoring run's figures.

Written to ``$CHURN_HOME/reports/churn_monitoring.prom`` for node-exporter's textfile collector,
and served at ``/metrics`` by ``python -m flows.monitor --serve-metrics PORT`` for a direct scrape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class Figure:
    """One monitored number: ``drift.share``, ``performance.roc_auc`` … with its labels."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def metric_name(name: str, *, prefix: str = "churn_") -> str:
    """``drift.share`` → ``churn_drift_share`` (Prometheus allows [a-zA-Z0-9_:])."""
    return prefix + _INVALID.sub("_", name)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_prometheus(figures: Iterable[Figure], *, labels: Mapping[str, str]) -> str:
    """One gauge family per figure name; every sample carries ``labels`` plus its own."""
    families: dict[str, list[Figure]] = {}
    for figure in figures:
        families.setdefault(metric_name(figure.name), []).append(figure)
    lines: list[str] = []
    for prom in sorted(families):
        members = families[prom]
        lines.append(f"# HELP {prom} churn monitoring: {members[0].name}")
        lines.append(f"# TYPE {prom} gauge")
        for figure in members:
            merged = {**labels, **figure.labels}
            text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(merged.items()))
            lines.append(f"{prom}{{{text}}} {_number(figure.value)}")
    return "\n".join(lines) + "\n"
