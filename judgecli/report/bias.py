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

from .codes import ABSENT, CLASSES, ERROR, FAILED, A, B, code_counts

BIAS_KEYS = ("n_both_orders", "consistency", "prefer_first", "prefer_second",
             "position_bias", "total_bias")

# points for the first-presented answer, by verdict code 0 (A), 1 (B), 2 (tie)
_FIRST_POINTS = {"AB": (1, -1, 0), "BA": (-1, 1, 0)}


def position_figures(ab: np.ndarray, ba: np.ndarray) -> dict[str, Any]:
    """From the counts of each (AB verdict, BA verdict) pair: a byte or two an item."""
    both = {pair: n for pair, n in code_counts(ab, ba).items() if ABSENT not in pair}
    n = sum(both.values())
    out: dict[str, Any] = dict.fromkeys(BIAS_KEYS)
    out["n_both_orders"] = n
    if not n:
        return out
    first = second = same = 0
    for (in_ab, in_ba), count in both.items():
        if ERROR in (in_ab, in_ba):
            continue  # a failed order counted wrong: inconsistent, favours neither position
        points = _FIRST_POINTS["AB"][in_ab] + _FIRST_POINTS["BA"][in_ba]
        first += count if points > 0 else 0
        second += count if points < 0 else 0
        same += count if in_ab == in_ba else 0
    out.update(consistency=same / n, prefer_first=first / n, prefer_second=second / n,
               position_bias=abs(first / n - second / n), total_bias=first / n + second / n)
    return out


def verdicts_by_order(ab: np.ndarray, ba: np.ndarray) -> dict[str, dict[str, int]] | None:
    """Counts of A / B / tie / failed in each order, as read (before --errors)."""
    out = {}
    for name, order in (("AB", ab), ("BA", ba)):
        counts = {code: n for (code,), n in code_counts(order).items()}
        if sum(n for code, n in counts.items() if code != ABSENT):
            out[name] = {**{c: counts.get(i, 0) for i, c in enumerate(CLASSES)},
                         "failed": counts.get(FAILED, 0)}
    return out or None


def longer_wins(verdict: np.ndarray, longer: np.ndarray) -> dict[str, Any]:
    """Length bias: of the decisive verdicts between answers of different length (in
    characters), the share won by the longer answer (0.5 = no preference). ``longer``: 1
    when answer A is longer, -1 when B is, 0 equal, -2 unknown."""
    a_won, b_won = verdict == A, verdict == B
    a_longer, b_longer = longer == 1, longer == -1
    longer_won = np.count_nonzero(a_won & a_longer) + np.count_nonzero(b_won & b_longer)
    decided = np.count_nonzero((a_won | b_won) & (a_longer | b_longer))
    return {"longer_wins": longer_won / decided if decided else None,
            "n_length_decided": int(decided)}
