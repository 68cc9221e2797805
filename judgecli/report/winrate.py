"""Win rate of A over B without labels: ties count half, with a bootstrap interval.

The 95% interval is the percentile bootstrap over items. Resampling n items with
replacement from outcomes that take three values (A wins, tie, B wins) gives counts that
are exactly Multinomial(n, observed shares), so each resample is drawn as one multinomial
vector: the same distribution as resampling the items, in O(resamples) time and memory
whatever n is. The generator is ``numpy.random.default_rng(seed)``, so a report is
reproducible. The sign test compares wins with losses and leaves ties out: two-sided, p =
0.5, as ``scipy.stats.binomtest`` computes it (the probability of outcomes no likelier than
the one seen, which for p = 0.5 is both tails), summed here in log space with numpy because
importing ``scipy.stats`` costs more than a small report takes; the tests check it against
binomtest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .codes import FAIL, PASS, TIE, A, B, code_counts, share

RESAMPLES = 2000
WIN_KEYS = ("wins", "ties", "losses", "win_rate", "win_rate_ci", "sign_test_p", "tie_rate")


def win_figures(verdict: np.ndarray, *, seed: int = 0,
                resamples: int = RESAMPLES) -> dict[str, Any]:
    """``verdict``: codes after --errors (a failure is a tie, or ERROR, which is left out)."""
    counts = {code: n for (code,), n in code_counts(verdict).items()}
    wins, losses, ties = counts.get(A, 0), counts.get(B, 0), counts.get(TIE, 0)
    out: dict[str, Any] = {"wins": wins, "ties": ties, "losses": losses, "win_rate": None,
                           "win_rate_ci": None, "sign_test_p": None, "tie_rate": None}
    n = wins + ties + losses
    if n == 0:
        return out
    out["win_rate"] = (wins + 0.5 * ties) / n
    out["tie_rate"] = ties / n
    out["win_rate_ci"] = bootstrap_ci(wins, ties, losses, seed=seed, resamples=resamples)
    if wins + losses:
        out["sign_test_p"] = sign_test(wins, wins + losses)
    return out


def sign_test(k: int, n: int) -> float:
    """Two-sided binomial test of ``k`` successes in ``n`` at p = 0.5: 2 P(X <= min(k, n-k)),
    at most 1 (scipy's binomtest p-value; the distribution is symmetric)."""
    low = min(k, n - k)
    if 2 * low == n:
        return 1.0
    # log C(n, i) for i = 0..low, from C(n, i+1) = C(n, i) (n - i) / (i + 1).
    i = np.arange(low, dtype=float)
    log_terms = np.concatenate(([0.0], np.cumsum(np.log((n - i) / (i + 1))))) - n * math.log(2)
    top = log_terms.max()
    log_tail = top + math.log(np.exp(log_terms - top).sum())
    return float(min(1.0, math.exp(log_tail + math.log(2))))


def bootstrap_ci(wins: int, ties: int, losses: int, *, seed: int = 0,
                 resamples: int = RESAMPLES, level: float = 0.95) -> list[float]:
    n = wins + ties + losses
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, np.array([wins, ties, losses]) / n, size=resamples)
    rates = (draws[:, 0] + 0.5 * draws[:, 1]) / n
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail])
    return [float(low), float(high)]


def pass_rate(verdict: np.ndarray) -> float | None:
    """Binary judgments' counterpart of the win rate: the share of pass among the items with a
    pass or fail verdict (a failed judgment has neither, whatever --errors says)."""
    return share(verdict == PASS, (verdict == PASS) | (verdict == FAIL))
