"""Each pairwise item's two models (``model_a``, ``model_b``, as ``compare`` writes them), for
the judge-corrected Bradley-Terry ratings (``corrected``). Kept only in files whose records
name models (8 bytes an item there); an item without a name is -1."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np


class ModelColumns:
    def __init__(self) -> None:
        self.codes: array[int] = array("i")
        self.names: dict[str, int] = {}
        self.before = 0  # items before the first record that names a model

    def add(self, record: dict[str, Any]) -> None:
        a, b = record.get("model_a"), record.get("model_b")
        if not self.names:
            if type(a) is not str and type(b) is not str:
                self.before += 1
                return
            self.codes.extend([-1] * (2 * self.before))
        for name in (a, b):
            self.codes.append(self.names.setdefault(name, len(self.names))
                              if type(name) is str else -1)

    def finish(self) -> tuple[np.ndarray | None, list[str]]:
        """(n x 2 int32 codes into the names, the names), or (None, []) without models."""
        if not self.names:
            return None, []
        return np.frombuffer(self.codes, dtype=np.int32).reshape(-1, 2), list(self.names)
