"""Bradley-Terry ratings from pairwise games: the fit behind Arena-Hard's ranking
(``arenahard``) and compare's (``compare/ranking.py``).

P(i beats j) = 1 / (1 + exp(-(s_i - s_j))). The strengths s are the coefficients of a
logistic regression without intercept or penalty on rows x = e_i - e_j, y = 1 when i won
(Bradley & Terry 1952). A tie counts as half a win each way. This is the fit of
lm-sys/FastChat fastchat/serve/monitor/elo_analysis.py and lmarena/arena-hard-auto
utils_math.py ``compute_mle_elo``: both duplicate every battle and give a tie's two copies
y = 1 and y = 0, which is the same likelihood doubled. Games come as cells (i, j, i's share of
the win, count); a cell weighs its count, so an Arena-Hard strong win counted as three
battles is a cell of weight 3. scikit-learn's ``LogisticRegression(fit_intercept=False,
C=inf, tol=1e-8)``, as Arena-Hard's (its ``penalty=None``; C=inf is the same fit in
scikit-learn 1.8 and later).

Ratings are on the Elo scale, 400 / ln 10 per unit (Arena-Hard puts ln 10 in the features and
multiplies by 400: the same), with an anchor model at 1000 (Arena-Hard's baseline) or, with
no anchor, the mean at 1000 (compare's ranking).

Where the likelihood has no maximum. When the graph "i won at least part of a game against
j" is not strongly connected, some strengths run off to infinity (a model that never wins,
or one that wins everything). Arena-Hard's code fits regardless and reports whatever finite
number the solver stops at; here the limit is reported instead. The likelihood's supremum is
reached by pulling the strongly connected components apart along the order of the
condensation (a DAG), so within one component the strengths are that component's own fit,
and a model outside the reference component (the anchor's, or with no anchor the largest)
is +inf if it reaches it by wins, -inf if the reference reaches it, and undetermined (NaN)
otherwise; so is a model with no games.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SCALE = 400 / math.log(10)
BASE = 1000.0


def single_threaded() -> Any:
    """A context with one BLAS thread: each fit is tiny, and threads only contend (several
    times slower on a busy machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def strengths(n: int, i: np.ndarray, j: np.ndarray, share: np.ndarray, count: np.ndarray,
              anchor: int | None = None) -> np.ndarray:
    """Each model's strength (natural units) relative to ``anchor`` (0 there) or, with no
    anchor, mean 0 over the reference component; +-inf and NaN as the module says."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    keep = count > 0
    # One row per distinct (i, j, share), weighing the sum of its counts: the same
    # likelihood, and the fit's cost no longer grows with the number of games.
    cells, where = np.unique(np.c_[i[keep], j[keep], share[keep]], axis=0,
                             return_inverse=True)
    count = np.bincount(where.ravel(), weights=count[keep], minlength=len(cells))
    i, j, share = cells[:, 0].astype(np.int64), cells[:, 1].astype(np.int64), cells[:, 2]
    out = np.full(n, np.nan)
    present = np.zeros(n, dtype=bool)
    present[i] = present[j] = True
    if not present.any() or (anchor is not None and not present[anchor]):
        return out
    won, lost = share > 0, share < 1
    src, dst = np.r_[i[won], j[lost]], np.r_[j[won], i[lost]]
    beats = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(beats, directed=True, connection="strong")
    if anchor is None:
        sizes = np.bincount(component[present], minlength=n)
        largest = present & (sizes[component] == sizes.max())
        ref = int(component[np.argmax(largest)])  # on a tie, the first model's
    else:
        ref = int(component[anchor])
    members = np.flatnonzero((component == ref) & present)
    inside = (component[i] == ref) & (component[j] == ref)
    s = _fit(members, i[inside], j[inside], share[inside], count[inside])
    out[members] = s - (s[np.searchsorted(members, anchor)] if anchor is not None
                        else s.mean())
    start = int(members[0])
    below = breadth_first_order(beats, start, directed=True, return_predecessors=False)
    above = breadth_first_order(beats.T.tocsr(), start, directed=True,
                                return_predecessors=False)
    out[below[component[below] != ref]] = -np.inf
    out[above[component[above] != ref]] = np.inf
    return out


def _fit(members: np.ndarray, i: np.ndarray, j: np.ndarray, share: np.ndarray,
         count: np.ndarray) -> np.ndarray:
    """The maximum-likelihood strengths of one strongly connected set of models."""
    if len(members) == 1:
        return np.zeros(1)
    from sklearn.linear_model import LogisticRegression

    # Each cell oriented low index -> high, so that y takes both values: a strongly
    # connected set has a win from a lower index to a higher one and one back.
    flip = i > j
    lo, hi = np.where(flip, j, i), np.where(flip, i, j)
    y_share = np.where(flip, 1 - share, share)
    x = np.zeros((len(lo), len(members)))
    rows = np.arange(len(lo))
    x[rows, np.searchsorted(members, lo)] = 1.0
    x[rows, np.searchsorted(members, hi)] = -1.0
    weight = np.r_[count * y_share, count * (1 - y_share)]
    y = np.r_[np.ones(len(lo)), np.zeros(len(lo))]
    used = weight > 0
    fit = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)
    fit.fit(np.vstack([x, x])[used], y[used], sample_weight=weight[used])
    return np.asarray(fit.coef_[0], dtype=float)


def elo(s: np.ndarray) -> np.ndarray:
    """Strengths on the Elo scale (the anchor, or the mean, at 1000)."""
    return SCALE * s + BASE


def interval(draws: np.ndarray, low: float = 2.5, high: float = 97.5,
             ) -> list[float] | None:
    """numpy's (linear) percentiles of the draws that are not NaN; a bound between an
    infinite draw and another is that infinity. None when every draw is NaN."""
    values = np.sort(draws[~np.isnan(draws)])
    if not len(values):
        return None
    if np.isfinite(values).all():
        return [float(v) for v in np.percentile(values, [low, high])]
    bounds = []
    for q in (low, high):
        h = (len(values) - 1) * q / 100
        a, b = values[math.floor(h)], values[math.ceil(h)]
        g = h - math.floor(h)
        bounds.append(float(a if g == 0 or a == b else -np.inf if a == -np.inf else
                            np.inf if b == np.inf else a + g * (b - a)))
    return bounds


def finite(value: float) -> float | None:
    """A rating as JSON: None where it is infinite or undetermined."""
    return float(value) if math.isfinite(value) else None
