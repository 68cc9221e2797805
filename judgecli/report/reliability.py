"""Does the judge's confidence tell right from wrong? (labels and ``confidence`` needed)

* ``accuracy_at_coverage``: sort items by confidence, most confident first (equal
  confidences keep file order), and take the accuracy of the top 10%, 20%, ... 100%
  (the top ceil(c * n) items).
* ``auroc``: ``sklearn.metrics.roc_auc_score`` of confidence for correctness; undefined when
  every item is right or every item is wrong.
* ``ece``: expected calibration error with 10 equal-width bins, Guo et al. 2017, "On
  Calibration of Modern Neural Networks" (ICML), section 2: sum over bins of
  |B| / n * |accuracy(B) - mean confidence(B)|; bin m holds ((m-1)/10, m/10], the first
  also 0. The bins are those of ``sklearn.calibration.calibration_curve(strategy="uniform")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

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
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    coverage = []
    for tenth in COVERAGES:
        k = max(1, -(-tenth * n // 10))  # ceil(tenth / 10 * n) in integers
        coverage.append({"coverage": tenth / 10, "n": int(k), "accuracy": float(hits[k - 1] / k)})
    out["accuracy_at_coverage"] = coverage
    if correct.any() and not correct.all():
        out["auroc"] = float(roc_auc_score(correct, confidence))
    edges = np.linspace(0.0, 1.0, BINS + 1)
    ids = np.searchsorted(edges[1:-1], confidence)  # as calibration_curve bins them
    count = np.bincount(ids, minlength=BINS)
    conf_sum = np.bincount(ids, weights=confidence, minlength=BINS)
    right = np.bincount(ids, weights=correct.astype(float), minlength=BINS)
    filled = count > 0
    gap = np.abs(right[filled] - conf_sum[filled])  # = |B| * |acc(B) - conf(B)|
    out["ece"] = float(gap.sum() / n)
    out["calibration_bins"] = [
        {"low": round(float(edges[m]), 6), "high": round(float(edges[m + 1]), 6),
         "n": int(count[m]),
         "confidence": float(conf_sum[m] / count[m]) if count[m] else None,
         "accuracy": float(right[m] / count[m]) if count[m] else None}
        for m in range(BINS)]
    return out
