"""The models of each item (``model_a``, ``model_b``, as ``compare`` writes them), read once a
record, for two figures:

* each item's two models as codes (n x 2, -1 where a record names none), for the
  judge-corrected Bradley-Terry ratings (``corrected``); kept only in files whose records
  name models (8 bytes an item there);
* which model pair each pairwise item is, kept per item only in files of more than one pair
  (a ``compare`` of three models or more, Arena-Hard's judgments of several models): 4
  bytes an item there, nothing elsewhere. Pooled over several pairs, the figures of B
  against A (wins, win rate, AlpacaEval's and Arena-Hard's scores) mean nothing, since A and
  B are other models in each pair: such a file's report is per pair (as ``--by
  model_a,model_b``; ``summary``).
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


class ModelColumns:
    def __init__(self) -> None:
        # each item's models as codes
        self.codes: array[int] = array("i")
        self.names: dict[str, int] = {}
        self.before = 0  # items before the first record that names a model
        # each pairwise item's pair
        self.pair_codes: dict[tuple[str, str], int] = {}
        self.pair_column: array[int] | None = None
        self.n_pairwise = 0

    def add(self, record: dict[str, Any], pairwise: bool) -> None:
        a, b = record.get("model_a"), record.get("model_b")
        if self.names or type(a) is str or type(b) is str:
            if not self.names:
                self.codes.extend([-1] * (2 * self.before))
            for name in (a, b):
                self.codes.append(self.names.setdefault(name, len(self.names))
                                  if type(name) is str else -1)
        else:
            self.before += 1
        if pairwise:
            self._add_pair(a, b)

    def _add_pair(self, a: Any, b: Any) -> None:
        key = (a if type(a) is str else _name(a), b if type(b) is str else _name(b))
        code = self.pair_codes.setdefault(key, len(self.pair_codes))
        if self.pair_column is not None:
            self.pair_column.append(code)
        elif code:
            self.pair_column = array("i", [0]) * self.n_pairwise
            self.pair_column.append(code)
        self.n_pairwise += 1

    def finish(self) -> tuple[np.ndarray | None, list[str]]:
        """(n x 2 int32 codes into the names, the names), or (None, []) without models."""
        if not self.names:
            return None, []
        return np.frombuffer(self.codes, dtype=np.int32).reshape(-1, 2), list(self.names)

    def finish_pairs(self) -> tuple[np.ndarray | None, list[str]]:
        """Each pairwise item's pair code (None in a file of one pair) and the pairs' names,
        "model_a / model_b" as ``--by model_a,model_b`` names its groups."""
        names = [" / ".join(pair) for pair in self.pair_codes]
        if self.pair_column is None:
            return None, names
        return np.frombuffer(self.pair_column, dtype=np.int32), names
