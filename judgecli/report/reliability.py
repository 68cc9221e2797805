"""Does the judge's confidence tell right from wrong? (labels and ``confidence`` needed)

* ``accuracy_at_coverage``: sort items by confidence, most confident first (equal
  confidences keep file order), and take the accuracy of the top 10%, 20%, ... 100%
  (the top ceil(c * n) items).
* ``auroc``: the area under the ROC curve of confidence for correctness, equal to
  ``sklearn.metrics.roc_auc_score`` (the tests check it): the Mann-Whitney form, the share
  of (right, wrong) pairs in which the right item is more confident, equal confidences
  counting half. Counted here over the sorted items, a slice at a time, because
  ``roc_auc_score`` holds about 100 bytes an item at its peak and this holds 9 (the sort
  order and the sorted right / wrong flags). Undefined when every item is right or every
  item is wrong.
* ``ece``: expected calibration error with 10 equal-width bins, Guo et al. 2017, "On
  Calibration of Modern Neural Networks" (ICML), section 2: sum over bins of
  |B| / n * |accuracy(B) - mean confidence(B)|; bin m holds ((m-1)/10, m/10], the first
  also 0. The bins are those of ``sklearn.calibration.calibration_curve(strategy="uniform")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import SLICE

BINS = 10
COVERAGES = tuple(range(1, 11))  # tenths
RELIABILITY_KEYS = ("n_confidence", "accuracy_at_coverage", "auroc", "ece",
                    "calibration_bins")


def reliability_figures(correct: np.ndarray, confidence: np.ndarray) -> dict[str, Any]:
    """``correct``: bool per item; ``confidence``: the verdict's probability (no nan)."""
    n = len(correct)
    out: dict[str, Any] = dict.fromkeys(RELIABILITY_KEYS)
    out["n_confidence"] = n
    if not n:
        return out
    order = np.argsort(-confidence, kind="stable")  # most confident first, ties in file order
    right = correct[order]
    coverage = []
    for tenth in COVERAGES:
        k = max(1, -(-tenth * n // 10))  # ceil(tenth / 10 * n) in integers
        hits = np.count_nonzero(right[:k])
        coverage.append({"coverage": tenth / 10, "n": int(k), "accuracy": float(hits / k)})
    out["accuracy_at_coverage"] = coverage
    sweep = _SortedSweep(int(np.count_nonzero(right)), n)
    for start in range(0, n, SLICE):
        sweep.add(confidence[order[start:start + SLICE]], right[start:start + SLICE])
    out["auroc"] = sweep.auroc()
    filled = sweep.count > 0
    gap = np.abs(sweep.right[filled] - sweep.conf_sum[filled])  # = |B| * |acc(B) - conf(B)|
    out["ece"] = float(gap.sum() / n)
    out["calibration_bins"] = [
        {"low": round(float(sweep.edges[m]), 6), "high": round(float(sweep.edges[m + 1]), 6),
         "n": int(sweep.count[m]),
         "confidence": float(sweep.conf_sum[m] / sweep.count[m]) if sweep.count[m] else None,
         "accuracy": float(sweep.right[m] / sweep.count[m]) if sweep.count[m] else None}
        for m in range(BINS)]
    return out


class _SortedSweep:
    """AUROC and calibration bins over the items in falling confidence, a slice at a time.

    AUROC = U / (P * N), U counting each (right, wrong) pair with the right item more
    confident as 1 and an equal pair as 1/2. Kept doubled (``twice_u``) so that it is an
    exact integer. A run of equal confidences can cross a slice boundary, so the last run
    of a slice stays open until the next slice shows whether it goes on."""

    def __init__(self, positives: int, n: int) -> None:
        self.positives, self.negatives = positives, n - positives
        self.twice_u = 0
        self.wrong_above = 0  # wrong items in the closed runs (more confident ones)
        self.open: tuple[float, int, int] | None = None  # (confidence, right, wrong)
        self.edges = np.linspace(0.0, 1.0, BINS + 1)
        self.count = np.zeros(BINS, dtype=np.int64)
        self.conf_sum = np.zeros(BINS)
        self.right = np.zeros(BINS)

    def add(self, confidence: np.ndarray, right: np.ndarray) -> None:
        ids = np.searchsorted(self.edges[1:-1], confidence)  # as calibration_curve bins them
        self.count += np.bincount(ids, minlength=BINS)
        self.conf_sum += np.bincount(ids, weights=confidence, minlength=BINS)
        self.right += np.bincount(ids, weights=right, minlength=BINS)
        starts = np.flatnonzero(np.concatenate(([True], confidence[1:] != confidence[:-1])))
        hits = np.add.reduceat(right.astype(np.int64), starts)
        misses = np.diff(np.append(starts, len(right))) - hits
        if self.open is not None:
            value, open_hits, open_misses = self.open
            if value == confidence[0]:
                hits[0] += open_hits
                misses[0] += open_misses
            else:
                self._close(np.array([open_hits]), np.array([open_misses]))
        self._close(hits[:-1], misses[:-1])
        self.open = (float(confidence[starts[-1]]), int(hits[-1]), int(misses[-1]))

    def _close(self, hits: np.ndarray, misses: np.ndarray) -> None:
        """Runs of equal confidence, most confident first, no more items to come in them."""
        above = self.wrong_above + np.cumsum(misses) - misses  # wrong items more confident
        below = self.negatives - above - misses  # wrong items less confident
        self.twice_u += int(np.sum(hits * (2 * below + misses)))
        self.wrong_above += int(misses.sum())

    def auroc(self) -> float | None:
        if not self.positives or not self.negatives:
            return None
        if self.open is not None:
            _, hits, misses = self.open
            self._close(np.array([hits]), np.array([misses]))
            self.open = None
        return self.twice_u / (2 * self.positives * self.negatives)
