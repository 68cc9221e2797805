"""Single-answer grades against numeric labels: Pearson's r, Spearman's rho and Kendall's
tau-b with two-sided p-values (as ``scipy.stats.pearsonr``, ``spearmanr``, ``kendalltau``
give them), and the mean absolute error (``sklearn.metrics.mean_absolute_error``).

Items without a grade (a failed judgment) or without a label are left out: there is no
number to compare, whatever ``--errors`` says.

Grades are nearly always a few distinct values (1 to 10), so a million items make at most a
few hundred distinct (grade, label) pairs. Then the figures are computed from that table of
counts, in a few bytes an item, where scipy's functions given the items hold 30 to 80 bytes
an item (``spearmanr`` 81). The table gives the same figures by scipy's own definitions
(the tests check them against scipy to 1e-12):

* r: the count-weighted Pearson correlation; its p-value from the beta distribution on
  (-1, 1) with a = b = n/2 - 1, as ``pearsonr``.
* rho: Pearson's r of the average ranks (each value's rank is the mean of the positions its
  items take, as ``rankdata``); its p-value from Student's t with n - 2 degrees of freedom,
  t = rho * sqrt((n - 2) / ((1 + rho)(1 - rho))), as ``spearmanr``.
* tau-b: (concordant - discordant pairs) / sqrt((n0 - n1)(n0 - n2)), n0 = n(n-1)/2 and n1,
  n2 the pairs tied in grade or in label; its p-value from the normal approximation with the
  tie-corrected variance ``kendalltau`` uses (Kendall 1945). The table is used only when
  both columns have ties, where ``kendalltau(method="auto")`` takes that approximation too.

More distinct values than ``TABLE_LIMIT`` on either side, or no ties, and the items go to
scipy as they are.

``grade_accuracy``: the share of labelled items whose grade equals the label, Prometheus's
"Accuracy" on its Feedback Collection test (prometheus-eval eval/utils.py,
``calculate_results``; in percent there). Unlike the figures above it follows ``--errors``:
an item without a grade is a miss, or left out with ``drop``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .codes import SLICE, num, share

NUMERIC_KEYS = ("pearson", "pearson_p", "spearman", "spearman_p", "kendall", "kendall_p",
                "mae")
TABLE_LIMIT = 256  # distinct values a side, for the table of counts


def numeric_figures(score: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(NUMERIC_KEYS)
    keep = ~np.isnan(score) & ~np.isnan(gold)
    x, y = (score, gold) if keep.all() else (score[keep], gold[keep])
    del keep
    if not len(x):
        return out
    table = _table(x, y)
    if table is None:
        out["mae"] = float(np.abs(y - x).mean())  # sklearn's mean_absolute_error
    else:
        xv, yv, counts = table
        cells = np.nonzero(counts)
        out["mae"] = float(np.average(np.abs(yv[cells[1]] - xv[cells[0]]),
                                      weights=counts[cells]))
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return out  # a correlation needs two items and variation in both
    from scipy import stats  # here, not at import: only grade files need it (~1 s)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if table is None:
            results = [test(x, y) for test in (stats.pearsonr, stats.spearmanr,
                                               stats.kendalltau)]
            pairs = [(r.statistic, r.pvalue) for r in results]
        else:
            pairs = _from_table(*table)
    for name, (value, p) in zip(("pearson", "spearman", "kendall"), pairs, strict=True):
        out[name], out[name + "_p"] = num(value), num(p)
    return out


def grade_accuracy(score: np.ndarray, gold: np.ndarray, errors: str) -> float | None:
    labelled = ~np.isnan(gold)
    if errors == "drop":
        labelled &= ~np.isnan(score)
    return share(score[labelled] == gold[labelled])  # NaN equals nothing: a miss


def _table(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(grade values, label values, counts[grade, label]) or None (too many values, or a
    column without ties)."""
    xv, yv = np.unique(x), np.unique(y)
    if max(len(xv), len(yv)) > TABLE_LIMIT or len(xv) == len(x) or len(yv) == len(y):
        return None
    counts = np.zeros(len(xv) * len(yv), dtype=np.int64)
    for start in range(0, len(x), SLICE):
        key = np.searchsorted(xv, x[start:start + SLICE]) * len(yv)
        key += np.searchsorted(yv, y[start:start + SLICE])
        counts += np.bincount(key, minlength=len(counts))
    return xv, yv, counts.reshape(len(xv), len(yv))


def _weighted_r(xs: np.ndarray, ys: np.ndarray, counts: np.ndarray) -> float:
    """Pearson's r of the items, given the distinct values and the table of counts."""
    n = counts.sum()
    dx = xs - (counts.sum(axis=1) @ xs) / n
    dy = ys - (counts.sum(axis=0) @ ys) / n
    sxy = dx @ counts @ dy
    sxx, syy = counts.sum(axis=1) @ (dx * dx), counts.sum(axis=0) @ (dy * dy)
    return float(np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0))


def _midranks(counts: np.ndarray) -> np.ndarray:
    """The average rank of each value's items, values in order (``rankdata``'s "average")."""
    return np.cumsum(counts) - counts + (counts + 1) / 2


def _from_table(xv: np.ndarray, yv: np.ndarray, counts: np.ndarray,
                ) -> list[tuple[float, float]]:
    from scipy import stats

    n = int(counts.sum())
    r = _weighted_r(xv, yv, counts)
    ab = n / 2 - 1
    r_p = 2 * stats.beta.sf(abs(r), ab, ab, loc=-1, scale=2)
    rho = _weighted_r(_midranks(counts.sum(axis=1)), _midranks(counts.sum(axis=0)), counts)
    # numpy division, as spearmanr's: rho = +-1 gives an infinite t (p = 0), not an error
    t = rho * np.sqrt(max(np.float64(n - 2) / ((rho + 1.0) * (1.0 - rho)), 0.0))
    rho_p = 2 * stats.t.sf(abs(t), n - 2)
    return [(r, r_p), (rho, rho_p), _kendall(counts)]


def _kendall(counts: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b and kendalltau's asymptotic p-value, from the table of counts."""
    from scipy import stats

    # later[i, j]: items with a larger grade index than i and a label index >= j
    suffix = counts[::-1, ::-1].cumsum(axis=0).cumsum(axis=1)[::-1, ::-1]
    later = np.zeros((counts.shape[0] + 1, counts.shape[1] + 1), dtype=np.int64)
    later[:-1, :-1] = suffix
    later = later[1:]  # rows i + 1
    concordant = int(np.sum(counts * later[:, 1:]))
    discordant = int(np.sum(counts * (later[:, :1] - later[:, :-1])))
    n = int(counts.sum())
    rows, cols = counts.sum(axis=1).tolist(), counts.sum(axis=0).tolist()
    xtie, ytie = (sum(c * (c - 1) // 2 for c in side) for side in (rows, cols))
    x0, y0 = (sum(c * (c - 1) * (c - 2) for c in side) for side in (rows, cols))
    x1, y1 = (sum(c * (c - 1) * (2 * c + 5) for c in side) for side in (rows, cols))
    total = n * (n - 1) // 2
    difference = concordant - discordant
    tau = min(1.0, max(-1.0, difference / np.sqrt(total - xtie) / np.sqrt(total - ytie)))
    m = n * (n - 1.0)
    var = ((m * (2 * n + 5) - x1 - y1) / 18 + (2 * xtie * ytie) / m
           + x0 * y0 / (9 * m * (n - 2)))
    return tau, float(2 * stats.norm.sf(abs(difference / np.sqrt(var))))
