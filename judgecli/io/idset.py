"""A set of ids in about 8 bytes each, for finding duplicate ids in a stream of any length.

A Python set of ids costs some 120 bytes an id (the key tuple, the value, the table slot):
190 MB of a million-item run's memory. Here each id is kept as its 64-bit hash, the newest
in a small set and the rest in sorted numpy runs whose sizes halve from one to the next
(merged like a binary counter, so each hash is re-sorted O(log n) times). Two different ids
share a hash with probability about n^2 / 2^65 (some 3e-8 for a million ids), the same
trade ``report`` makes; within one process Python's hash is fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ids import id_hash


class IdSet:
    def __init__(self, chunk: int = 1 << 16) -> None:
        self._chunk = chunk
        self._recent: set[int] = set()
        self._runs: list[np.ndarray] = []  # sorted int64, largest first

    def __len__(self) -> int:
        return len(self._recent) + sum(len(run) for run in self._runs)

    def __contains__(self, item_id: Any) -> bool:
        return self._has(id_hash(item_id))

    def add(self, item_id: Any) -> bool:
        """Add an id; False (and nothing added) when it was already there."""
        value = id_hash(item_id)
        if self._has(value):
            return False
        self._recent.add(value)
        if len(self._recent) >= self._chunk:
            self._flush()
        return True

    def _has(self, value: int) -> bool:
        if value in self._recent:
            return True
        for run in self._runs:
            at = int(run.searchsorted(value))
            if at < len(run) and run[at] == value:
                return True
        return False

    def _flush(self) -> None:
        new = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
        self._recent = set()
        while self._runs and len(self._runs[-1]) <= 2 * len(new):
            new = np.concatenate((self._runs.pop(), new))
        new.sort()
        self._runs.append(new)
