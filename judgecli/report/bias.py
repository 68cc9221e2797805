"""Position and length bias, and what each presentation order said.

Position bias follows baaivision/JudgeLM ``judgelm/llm_judge/eval_model_judgement.py``
(``calculate_metrics``): over the items judged in both orders, an item whose two verdicts
differ favours the first-presented answer (``prefer_first``, JudgeLM's
``perfer_before_rate``) or the second (``prefer_second``, ``perfer_after_rate``); both are
shares of all items judged in both orders, as in JudgeLM. ``position_bias`` is
``|prefer_first - prefer_second|`` (JudgeLM's ``delta_bias``) and ``total_bias`` their sum
(JudgeLM's ``total_bias``). ``consistency`` is the share whose two verdicts agree (JudgeLM's
``consistency``; Auto-J's pairwise_eval.py counts it the same way).

Verdicts are stored in the original A/B terms; in order ``BA`` the first answer shown was
the original B. So an order favours its first position when it says A in ``AB`` or B in
``BA``, by the points +1 (first wins), 0 (tie), -1 (second wins). Two verdicts differ
exactly when these points do not cancel, and the sign of their sum says which position won
more. A failed order counted wrong (``--errors wrong``) makes its item inconsistent and
favour neither position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import ABSENT, CLASSES, ERROR, FAILED, A, B, share

BIAS_KEYS = ("n_both_orders", "consistency", "prefer_first", "prefer_second",
             "position_bias", "total_bias")

# points for the first-presented answer, indexed by verdict code 0 (A), 1 (B), 2 (tie)
_FIRST_POINTS = {"AB": np.array([1, -1, 0]), "BA": np.array([-1, 1, 0])}


def position_figures(ab: np.ndarray, ba: np.ndarray) -> dict[str, Any]:
    both = (ab != ABSENT) & (ba != ABSENT)
    ab, ba = ab[both], ba[both]
    n = len(ab)
    out: dict[str, Any] = dict.fromkeys(BIAS_KEYS)
    out["n_both_orders"] = n
    if not n:
        return out
    valid = (ab != ERROR) & (ba != ERROR)
    points = np.zeros(n, dtype=np.int64)
    points[valid] = _FIRST_POINTS["AB"][ab[valid]] + _FIRST_POINTS["BA"][ba[valid]]
    first = float(np.count_nonzero(points > 0)) / n
    second = float(np.count_nonzero(points < 0)) / n
    out.update(consistency=share((ab == ba) & valid), prefer_first=first,
               prefer_second=second, position_bias=abs(first - second),
               total_bias=first + second)
    return out


def verdicts_by_order(ab: np.ndarray, ba: np.ndarray) -> dict[str, dict[str, int]] | None:
    """Counts of A / B / tie / failed in each order, as read (before --errors)."""
    out = {}
    for name, order in (("AB", ab), ("BA", ba)):
        judged = order[order != ABSENT]
        if len(judged):
            counts = np.bincount(np.where(judged == FAILED, 3, judged), minlength=4)
            out[name] = {**{c: int(counts[i]) for i, c in enumerate(CLASSES)},
                         "failed": int(counts[3])}
    return out or None


def longer_wins(verdict: np.ndarray, len_a: np.ndarray, len_b: np.ndarray) -> dict[str, Any]:
    """Length bias: of the decisive verdicts between answers of different length (in
    characters), the share won by the longer answer (0.5 = no preference)."""
    known = (len_a >= 0) & (len_b >= 0) & (len_a != len_b) & ((verdict == A) | (verdict == B))
    longer_won = (verdict == A) == (len_a > len_b)
    return {"longer_wins": share(longer_won, known), "n_length_decided":
            int(np.count_nonzero(known))}

