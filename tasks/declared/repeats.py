"""Which rows of a load repeat an earlier row, across chunks: 64-bit row hashes in sorted levels.

Each chunk's new hashes become a sorted level, merged with the level before it while that one is
at most twice its size: O(log n) levels, each hash merged O(log n) times (one array merged into at
every chunk would cost O(n²/chunk), the load slowing as the file grows). A chunk's hashes are
sorted before they are looked up, so binary searches walk each level in order. 8 bytes a row; a
collision, about 3 in a million at 10 million rows, counts one more duplicate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class RowHashes:
    """The distinct row hashes seen so far in one file of a load."""

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(level) for level in self._levels)

    def mark_repeats(self, hashes: np.ndarray) -> np.ndarray:
        """True where a hash equals one seen before (earlier in ``hashes`` or in an earlier
        call); the others are remembered."""
        order = np.argsort(hashes, kind="stable")  # equal hashes keep their order: first wins
        ordered = hashes[order]
        repeated = np.zeros(len(ordered), dtype=bool)
        repeated[1:] = ordered[1:] == ordered[:-1]
        for level in self._levels:
            at = np.searchsorted(level, ordered)
            inside = at < len(level)
            repeated[inside] |= level[at[inside]] == ordered[inside]
        self._add(ordered[~repeated])
        marks = np.empty_like(repeated)
        marks[order] = repeated
        return marks

    def _add(self, new: np.ndarray) -> None:
        if not len(new):
            return
        self._levels.append(new)
        while len(self._levels) > 1 and len(self._levels[-2]) <= 2 * len(self._levels[-1]):
            top, below = self._levels.pop(), self._levels[-1]
            self._levels[-1] = np.insert(below, np.searchsorted(below, top), top)  # stays sorted


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (the index left out)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()
