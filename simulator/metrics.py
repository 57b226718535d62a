"""Small metrics without extra dependencies."""

from __future__ import annotations

import numpy as np


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC-AUC (Mann-Whitney U with average ranks for ties); NaN without both classes."""
    label = np.asarray(label, dtype=bool)
    pos = int(label.sum())
    neg = len(label) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(score), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0
    rank_sum = float(avg_rank[inverse][label].sum())
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)
