"""Reference profile: the statistics drift detection needs, computed once from the reference data.

Stored next to the model version (``reference/profile.json``) so a monitoring run never re-reads or
re-bins the reference. Per column: its kind, non-null count, standard deviation, either every value
(small references, exact) or evenly spaced quantiles (large ones), and value counts when the column
has few distinct values — the inputs of the tests Evidently picks by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
# References up to this many non-null values are stored whole (the drift test is then exact);
# larger ones as this many quantiles (Wasserstein error well below the 0.1 threshold's scale).
MAX_EXACT_VALUES = 5000
_PROBS = (np.arange(MAX_EXACT_VALUES) + 0.5) / MAX_EXACT_VALUES
# Value counts are kept for columns with at most this many distinct values.
MAX_COUNTED_VALUES = 50


def build_profile(
    frame: pd.DataFrame,
    *,
    numeric: Iterable[str],
    categorical: Iterable[str],
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready profile of ``frame``'s numeric and categorical columns."""
    columns: dict[str, Any] = {}
    for name in numeric:
        columns[name] = _numeric_profile(_column(frame, name))
    for name in categorical:
        columns[name] = _categorical_profile(_column(frame, name))
    return {
        "version": PROFILE_VERSION,
        "rows": len(frame),
        "meta": dict(meta or {}),
        "columns": columns,
    }


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ValueError(f"reference data has no column {name!r}; it holds {list(frame.columns)}")
    return frame[name]


def _numeric_profile(series: pd.Series) -> dict[str, Any]:
    values = pd.to_numeric(series, errors="raise").to_numpy(dtype="float64")
    values = np.sort(values[np.isfinite(values)])
    n = int(values.size)
    out: dict[str, Any] = {"kind": "numeric", "count": n, "nulls": int(len(series) - n)}
    if n == 0:
        return {**out, "std": None, "min": None, "max": None, "points": [], "exact": True}
    if n <= MAX_EXACT_VALUES:
        points, exact = values, True
    else:
        points, exact = sorted_quantiles(values, _PROBS), False
    uniques, counts = np.unique(values, return_counts=True)
    counted = (
        [[float(u), int(c)] for u, c in zip(uniques, counts, strict=True)]
        if uniques.size <= MAX_COUNTED_VALUES
        else None
    )
    return {
        **out,
        "std": float(np.std(values)),
        "mean": float(values.mean()),
        "min": float(values[0]),
        "max": float(values[-1]),
        "n_unique": int(uniques.size),
        "points": points.tolist(),
        "exact": exact,
        "counts": counted,
    }


def sorted_quantiles(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, probs, method="inverted_cdf")`` of already sorted values, by
    indexing: np.quantile partitions the data once per probability (seconds per column for the
    5,000 quantiles of a 100,000-row reference), although the values are sorted anyway."""
    n = ordered.size
    index = np.clip(np.ceil(n * probs - 1), 0, n - 1).astype(np.int64)
    return ordered[index]


def _categorical_profile(series: pd.Series) -> dict[str, Any]:
    present = series.dropna().astype(str)
    counts = present.value_counts()
    return {
        "kind": "categorical",
        "count": int(present.size),
        "nulls": int(len(series) - present.size),
        "n_unique": int(counts.size),
        "counts": [[str(k), int(v)] for k, v in counts.items()],
    }


class Profile(Mapping[str, Any]):
    """A loaded profile, read-only. Not a ``dict`` on purpose: Prefect walks every dict, list and
    dataclass among a task's parameters looking for futures, and the ~200,000 values a profile
    stores cost ~2 s per monitoring task that takes the champion's reference."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = dict(document)

    def __getitem__(self, key: str) -> Any:
        return self._document[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._document)

    def __len__(self) -> int:
        return len(self._document)

    def __repr__(self) -> str:
        columns = self._document.get("columns", {})
        return f"Profile({self._document.get('rows')} rows, {len(columns)} columns)"
