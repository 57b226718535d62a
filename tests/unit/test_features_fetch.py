"""Columns fetched from the feature queries: text values shared, missing values kept."""

from __future__ import annotations

import numpy as np

from tasks.features.fetch import _shared_strings


def test_shared_strings_keeps_values_and_missing_and_shares_objects() -> None:
    # Distinct str objects with equal text, as a DB driver returns them row by row.
    raw = np.array(["".join(["ba", "sic"]), None, "".join(["b", "asic"]), "premium"], dtype=object)
    assert raw[0] is not raw[2]
    shared = _shared_strings(raw)
    assert shared.tolist() == ["basic", None, "basic", "premium"]
    assert shared[0] is shared[2]
    assert shared.dtype == object


def test_shared_strings_of_only_missing_values() -> None:
    assert _shared_strings(np.array([None, None], dtype=object)).tolist() == [None, None]
