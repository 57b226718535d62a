"""Fast drift decision from a stored reference profile, with Evidently's default tests.

Evidently (0.7, ``DataDriftPreset`` / ``ValueDrift`` without options) picks per column, after
dropping missing values: for a reference of more than 1000 values, the normed Wasserstein
distance (numeric, more than 5 distinct values; drift when >= 0.1) or the Jensen-Shannon distance
(categorical or numeric with <= 5 distinct values; drift when >= 0.1); for a smaller reference,
the two-sample KS test (numeric; drift when p < 0.05), chi-square (categorical, > 2 values) or a
two-proportion z-test (2 values). We apply the same rules to the profile's stored values and
counts, so the decision agrees with Evidently's without reading the reference again and without
building any chart — one sort (or one value count) per current column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

SMALL_REFERENCE = 1000
DEFAULT_THRESHOLDS = {
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
_P_VALUE_TESTS = {"ks", "chisquare", "z"}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: which one, its score (distance or p-value), and the verdict."""

    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Every tested column, plus what could not be tested (empty on either side) and why."""

    columns: tuple[ColumnDrift, ...]
    skipped: Mapping[str, str]
    rows: int

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            c.column: {"method": c.method, "score": c.score, "drifted": c.drifted}
            for c in self.columns
        }


def detect_drift(
    current: pd.DataFrame, profile: Mapping[str, Any], *, columns: list[str] | None = None
) -> DriftResult:
    """Test each profiled column (or ``columns``) of ``current`` against the reference profile."""
    specs: Mapping[str, Any] = profile["columns"]
    names = columns if columns is not None else [n for n in specs if n in current.columns]
    missing = [n for n in names if n not in current.columns or n not in specs]
    if missing:
        raise ValueError(
            f"columns {missing} are missing from the current data or the reference profile"
        )
    results: list[ColumnDrift] = []
    skipped: dict[str, str] = {}
    for name in names:
        spec = specs[name]
        if spec["count"] == 0:
            skipped[name] = "reference has no values"
            continue
        if spec["kind"] == "categorical":
            values = current[name].to_numpy()
        else:
            values = pd.to_numeric(current[name], errors="raise").to_numpy(dtype="float64")
            values = values[np.isfinite(values)]
        if values.size == 0 or (spec["kind"] == "categorical" and pd.isna(values).all()):
            skipped[name] = "current data has no values"
            continue
        results.append(test_column(name, values, spec))
    return DriftResult(columns=tuple(results), skipped=skipped, rows=len(current))


def test_column(name: str, values: np.ndarray, spec: Mapping[str, Any]) -> ColumnDrift:
    """The default Evidently test of one non-null current column against its profile entry."""
    small = spec["count"] <= SMALL_REFERENCE
    if spec["kind"] == "categorical":
        ref = {str(k): int(v) for k, v in spec["counts"]}
        cur: dict[str, int] = {}
        for key, count in pd.Series(values).value_counts(dropna=True).items():
            cur[str(key)] = cur.get(str(key), 0) + int(count)
        method = _categorical_method(small, len(set(ref) | set(cur)))
        score = _count_test(method, ref, cur)
    else:
        method, score = _numeric_test(values, spec, small=small)
    threshold = DEFAULT_THRESHOLDS[method]
    drifted = score < threshold if method in _P_VALUE_TESTS else score >= threshold
    return ColumnDrift(name, method, float(score), threshold, bool(drifted))


def _categorical_method(small: bool, n_values: int) -> str:
    if not small:
        return "jensenshannon"
    return "chisquare" if n_values > 2 else "z"


def _numeric_test(values: np.ndarray, spec: Mapping[str, Any], *, small: bool) -> tuple[str, float]:
    few = spec.get("counts") is not None and spec["n_unique"] <= 5
    if few:
        cur_unique, cur_counts = np.unique(values, return_counts=True)
        ref = {float(k): int(v) for k, v in spec["counts"]}
        union = set(ref) | {float(u) for u in cur_unique}
        if len(union) <= 5:
            cur = {float(u): int(c) for u, c in zip(cur_unique, cur_counts, strict=True)}
            method = "jensenshannon" if not small else ("chisquare" if len(union) > 2 else "z")
            return method, _count_test(method, ref, cur)
    points = np.asarray(spec["points"], dtype="float64")
    if small:
        return "ks", float(stats.ks_2samp(points, values).pvalue)
    norm = max(float(spec["std"]), 0.001)
    return "wasserstein", wasserstein_1d(points, values) / norm


def wasserstein_1d(reference_sorted: np.ndarray, values: np.ndarray) -> float:
    """First Wasserstein distance between two samples, ∫|F_ref - F_cur| dx (as scipy's
    ``wasserstein_distance``), with one sort of ``values`` and a linear merge: the reference is
    stored sorted, and a stable argsort of two sorted runs is a single timsort merge."""
    current = np.sort(values)
    merged = np.concatenate([current, reference_sorted])
    order = np.argsort(merged, kind="stable")
    from_current = order < current.size
    cdf_current = np.cumsum(from_current)[:-1] / current.size
    cdf_reference = np.cumsum(~from_current)[:-1] / reference_sorted.size
    return float(np.sum(np.abs(cdf_current - cdf_reference) * np.diff(merged[order])))


def _count_test(method: str, ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    keys = list(set(ref) | set(cur))
    r = np.array([ref.get(k, 0) for k in keys], dtype="float64")
    c = np.array([cur.get(k, 0) for k in keys], dtype="float64")
    if method == "jensenshannon":
        return float(distance.jensenshannon(r / r.sum(), c / c.sum()))
    if method == "chisquare":
        expected = r * (c.sum() / r.sum())
        return float(stats.chisquare(c, expected).pvalue)
    return _z_test(keys, ref, cur)


def _z_test(keys: list[Any], ref: Mapping[Any, int], cur: Mapping[Any, int]) -> float:
    """Two-proportion z-test on the share of the first (sorted) value, as Evidently does."""
    if len(keys) == 1:
        return 1.0
    first = sorted(keys)[0]
    n1, n2 = sum(ref.values()), sum(cur.values())
    p1, p2 = 1 - ref.get(first, 0) / n1, 1 - cur.get(first, 0) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))
