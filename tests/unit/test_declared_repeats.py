"""Rows repeated across the chunks of a load: the sorted levels agree with a plain set."""

from __future__ import annotations

import numpy as np

from tasks.declared.repeats import RowHashes


def test_row_hashes_marks_what_a_set_would_over_many_chunks() -> None:
    rng = np.random.default_rng(3)
    hashes, seen = RowHashes(), set()
    for size in [0, 40, 40, 1, 0, *rng.integers(0, 60, 30).tolist()]:  # levels merge many times
        chunk = rng.integers(0, 400, size).astype(np.uint64)
        expected = []
        for value in chunk.tolist():
            expected.append(value in seen)
            seen.add(value)
        assert hashes.mark_repeats(chunk).tolist() == expected
    assert len(hashes) == len(seen)
