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
import pyarrow as pa


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


class ConflictingIds:
    """Ids on two or more rows that differ, across a table's chunks: every row's id hash and row
    hash (16 bytes a row); ``conflicting()`` sorts them once and returns the hashes of the ids
    that have more than one row hash, sorted."""

    def __init__(self) -> None:
        self._ids: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        self._ids.append(ids)
        self._rows.append(rows)

    def conflicting(self) -> np.ndarray:
        ids = np.concatenate([np.zeros(0, dtype=np.uint64), *self._ids])
        rows = np.concatenate([np.zeros(0, dtype=np.uint64), *self._rows])
        order = np.lexsort((rows, ids))
        ids, rows = ids[order], rows[order]
        distinct = np.ones(len(ids), dtype=bool)  # first row of each (id, row) pair
        distinct[1:] = (ids[1:] != ids[:-1]) | (rows[1:] != rows[:-1])
        ids = ids[distinct]
        return np.unique(ids[1:][ids[1:] == ids[:-1]])


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (the index left out). Arrow-backed text is hashed from
    its bytes with numpy (no Python object per cell); other columns by pandas."""
    hashed = np.full(len(frame), _SEED, dtype=np.uint64)
    for position, name in enumerate(frame.columns):
        column = frame[name]
        if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
            values = _text_hashes(pa.array(column.array))
        else:
            values = pd.util.hash_array(column.to_numpy())
        hashed = _mix(hashed ^ values ^ np.uint64(position))
    return hashed


_SEED = np.uint64(0x9E3779B97F4A7C15)
_LONG = 64  # bytes: longer texts (rare) are hashed one by one, by the same steps


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _text_hashes(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each string's hash: its length, then its bytes 8 at a time (little-endian, the last
    word zero-padded), each mixed in; the same for a string wherever it occurs."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[
        text.offset : text.offset + len(text) + 1
    ]
    data = np.frombuffer(text.buffers()[2] or b"", dtype=np.uint8)
    data = np.concatenate([data[offsets[0] : offsets[-1]], np.zeros(8, dtype=np.uint8)])
    starts = offsets[:-1] - offsets[0]
    lengths = offsets[1:] - offsets[:-1]
    # bytes k..k+7 as one word for every k (an overlapping view: no copy)
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    hashed = _mix(lengths.astype(np.uint64) * _SEED)
    last = len(words) - 1
    for first in range(0, int(min(lengths.max(initial=0), _LONG)), 8):
        left = lengths - first
        word = words[np.minimum(starts + first, last)]
        bits = (np.clip(left, 0, 8) * 8).astype(np.uint64)
        full = bits == 64
        word &= np.where(
            full, ~np.uint64(0), (np.uint64(1) << (bits & np.uint64(63))) - np.uint64(1)
        )
        hashed = np.where(left > 0, _mix(hashed ^ word), hashed)
    for row in np.flatnonzero(lengths > _LONG):  # the rest of a long text, word by word
        hashed[row] = _long_tail(bytes(data[starts[row] : starts[row] + lengths[row]]), hashed[row])
    return hashed


def _long_tail(value: bytes, hashed: np.uint64) -> np.uint64:
    padded = value + bytes(-len(value) % 8)
    state = np.array([hashed], dtype=np.uint64)
    for first in range(_LONG, len(padded), 8):
        word = np.frombuffer(padded[first : first + 8], dtype="<u8")
        state = _mix(state ^ word)
    return np.uint64(state[0])
