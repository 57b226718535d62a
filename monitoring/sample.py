"""Bounded, stratified samples for Evidently's HTML and snapshots (the decision uses all rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_SAMPLE_ROWS = 20_000


def stratified_sample(
    frame: pd.DataFrame, *, rows: int = DEFAULT_SAMPLE_ROWS, by: str | None = None, seed: int = 0
) -> pd.DataFrame:
    """At most ``rows`` rows, in proportion to the deciles of ``by`` (so the tails stay in)."""
    if len(frame) <= rows:
        return frame
    if by is None or by not in frame.columns or frame[by].nunique() < 2:
        return frame.sample(n=rows, random_state=seed)
    strata = pd.qcut(frame[by].rank(method="first"), q=10, labels=False)
    fraction = rows / len(frame)
    rng = np.random.default_rng(seed)
    keep = rng.random(len(frame)) < fraction
    # per-stratum Bernoulli keeps each decile's share; trim the few rows above the bound
    picked = frame[keep]
    if len(picked) > rows:
        picked = picked.groupby(strata[keep], group_keys=False).head(rows // 10 + 1).head(rows)
    return picked
