"""Which model pair (model_a, model_b) each item of a pairwise file is, kept per item only
in files of more than one pair (a ``compare`` of three models or more, Arena-Hard's
judgments of several models): 4 bytes an item there, nothing elsewhere.

Pooled over several pairs, the figures of B against A (wins, win rate, AlpacaEval's and
Arena-Hard's scores) mean nothing, since A and B are other models in each pair: such a
file's report is per pair (as ``--by model_a,model_b``; ``summary``).
"""

from __future__ import annotations

import json
from array import array
from typing import Any

import numpy as np

NONE = "(none)"  # report.load.MISSING_GROUP: a pair's name as --by model_a,model_b names it


def _name(value: Any) -> str:
    if value is None:
        return NONE
    return value if type(value) is str else json.dumps(value, ensure_ascii=False)


class ModelPairs:
    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], int] = {}
        self.column: array[int] | None = None
        self.n = 0

    def add(self, record: dict[str, Any]) -> None:
        a, b = record.get("model_a"), record.get("model_b")
        key = (a if type(a) is str else _name(a), b if type(b) is str else _name(b))
        code = self.codes.setdefault(key, len(self.codes))
        if self.column is not None:
            self.column.append(code)
        elif code:
            self.column = array("i", [0]) * self.n
            self.column.append(code)
        self.n += 1

    def finish(self) -> tuple[np.ndarray | None, list[str]]:
        """Each item's pair code (None in a file of one pair) and the pairs' names,
        "model_a / model_b" as ``--by model_a,model_b`` names its groups."""
        names = [" / ".join(pair) for pair in self.codes]
        if self.column is None:
            return None, names
        return np.frombuffer(self.column, dtype=np.int32), names
