"""Codes shared by the report's modules, and how a figure becomes JSON.

Verdicts and labels are small integers so a million items fit in a few megabytes:
0 = A, 1 = B, 2 = tie (pairwise), 4 = pass, 5 = fail (binary judgments of one answer). A
failed judgment is -1 when read; ``--errors wrong`` turns it into its own class, 3, that never
equals a label. The binary codes come after 3 so that every pairwise figure, which indexes
arrays by the codes 0-3, reads the same codes as before.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CLASSES = ("A", "B", "tie")
BINARY_CLASSES = ("pass", "fail")
A, B, TIE = 0, 1, 2
ERROR = 3  # a failed judgment counted as wrong (--errors wrong)
PASS, FAIL = 4, 5
# One table for both families, so the loader's hot loop does one lookup per verdict; a code
# >= PASS is binary, and a file may not mix the two (``columns.Kinds``).
CODE = {"A": A, "B": B, "tie": TIE, "pass": PASS, "fail": FAIL}
FAILED = -1  # a verdict, or one order's verdict, that failed
ABSENT = -2  # an order that was not judged
NO_LABEL = -1
SLICE = 1 << 16  # items per step where a figure is counted a slice of items at a time


def apply_errors(codes: np.ndarray, errors: str) -> np.ndarray:
    """Verdict codes as ``--errors`` counts them: a failed one becomes a tie (``tie``) or its
    own class that never matches a label (``wrong``; ``drop`` leaves items out elsewhere)."""
    return np.where(codes == FAILED, TIE if errors == "tie" else ERROR, codes)


def code_counts(*columns: np.ndarray) -> dict[tuple[int, ...], int]:
    """How many items hold each combination of codes (-2 to 5) across int8 columns.

    The verdict figures (confusion, kappa, F1, position bias) depend only on these counts.
    Counting them through one 2-byte key per item and its sort costs a few bytes an item,
    where scikit-learn's functions given the raw columns make several int64 copies of
    them; given the combinations with their counts as ``sample_weight`` they compute the
    same figures exactly (integer weights sum exactly)."""
    if not columns or not len(columns[0]):
        return {}
    key = np.zeros(len(columns[0]), dtype=np.uint16)
    for place, column in enumerate(columns):  # 3 bits per column: code + 2 is 0..7
        key |= (column + 2).astype(np.uint16) << (3 * place)
    values, counts = np.unique(key, return_counts=True)
    return {tuple(int((value >> (3 * place)) & 7) - 2 for place in range(len(columns))):
            int(count) for value, count in zip(values, counts, strict=True)}


def num(value: Any) -> float | None:
    """A figure as JSON: a float, or None where it is undefined (nan, no data)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def share(mask: np.ndarray, within: np.ndarray | None = None) -> float | None:
    """The fraction of True in ``mask`` (restricted to ``within``); None when empty."""
    if within is not None:
        mask = mask[within]
    return float(np.mean(mask)) if len(mask) else None
