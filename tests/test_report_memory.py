"""The report's figures are computed in a few bytes an item, and stay exact doing so.

A million-item report must stay near the memory of a ten-thousand-item one (issue 7), so the
figures are counted from code combinations (``code_counts``) and the AUROC is taken a slice
at a time over the sorted items. These tests hold both halves: the figures equal
scikit-learn's on the raw columns, and the memory they take beyond the columns is bounded
per item (measured with tracemalloc, which numpy reports its arrays to: no timing, no RSS).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from judgecli.report import ReportOptions, summarise
from judgecli.report import reliability as reliability_module
from judgecli.report.agreement import label_figures
from judgecli.report.codes import ERROR, TIE, code_counts
from judgecli.report.columns import PAIR, constant
from judgecli.report.load import Judgments
from judgecli.report.reliability import reliability_figures


def _judgments(n: int, seed: int = 0) -> Judgments:
    """Columns as ``read_judgments`` leaves them for a pairwise file of ``n`` items."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n).astype(np.int8)
    ab = np.where(rng.random(n) < 0.7, label, rng.integers(0, 3, n)).astype(np.int8)
    ba = np.where(rng.random(n) < 0.8, ab, rng.integers(0, 3, n)).astype(np.int8)
    failed = rng.random(n) < 0.02
    verdict = np.where(failed, -1, np.where(ab == ba, ab, TIE)).astype(np.int8)
    # Confidences on a 1/1000 grid: many ties, some of them across the AUROC's slices.
    confidence = np.round(rng.random(n), 3)
    return Judgments(
        file="synthetic", kind=PAIR, ids=rng.integers(0, 2**62, n),
        lines=np.arange(1, n + 1, dtype=np.int32), failed=failed, verdict=verdict,
        order_ab=ab, order_ba=ba, label=label, score=constant(n, np.nan, np.float64),
        label_value=constant(n, np.nan, np.float64), confidence=confidence,
        longer=rng.integers(-2, 2, n).astype(np.int8), group=constant(n, 0, np.int32),
        delimited=np.zeros(n, dtype=bool))


def test_code_counts_decode_every_code() -> None:
    first = np.array([-2, -1, 0, 1, 2, 3, 4, 5, 0], dtype=np.int8)
    second = np.array([5, 4, 3, 2, 1, 0, -1, -2, 5], dtype=np.int8)
    assert code_counts(first, second) == {(-2, 5): 1, (-1, 4): 1, (0, 3): 1, (1, 2): 1,
                                          (2, 1): 1, (3, 0): 1, (4, -1): 1, (5, -2): 1,
                                          (0, 5): 1}
    assert code_counts(np.array([], dtype=np.int8)) == {}


def test_label_figures_from_counts_equal_sklearn_on_items() -> None:
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 5000).astype(np.int8)
    pred = np.where(rng.random(5000) < 0.6, gold, rng.integers(0, 4, 5000)).astype(np.int8)
    out = label_figures(gold, pred)
    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, pred, labels=[0, 1, 2], average="macro", zero_division=0)
    assert out["agreement"] == accuracy_score(gold, pred)
    assert (out["precision"], out["recall"], out["f1"]) == pytest.approx(
        (precision, recall, f1), abs=1e-15)
    assert out["kappa"] == pytest.approx(cohen_kappa_score(gold, pred), abs=1e-15)
    assert out["confusion"]["counts"] == confusion_matrix(
        gold, pred, labels=[0, 1, 2, ERROR])[:3].tolist()


@pytest.mark.parametrize("slice_size", [1, 7, 64, 1 << 16])
def test_auroc_by_slices_equals_roc_auc_score(monkeypatch, slice_size: int) -> None:
    rng = np.random.default_rng(slice_size)
    confidence = rng.integers(0, 20, 3000) / 20  # long runs of equal confidence
    correct = rng.random(3000) < confidence
    monkeypatch.setattr(reliability_module, "SLICE", slice_size)
    out = reliability_figures(correct, confidence)
    assert out["auroc"] == pytest.approx(roc_auc_score(correct, confidence), abs=1e-12)
    # accuracy at coverage: most confident first, equal confidences in file order
    order = sorted(range(3000), key=lambda i: -confidence[i])
    for point in out["accuracy_at_coverage"]:
        assert point["accuracy"] == np.mean(correct[order[:point["n"]]])


def test_auroc_undefined_with_one_class() -> None:
    assert reliability_figures(np.ones(5, dtype=bool), np.linspace(0, 1, 5))["auroc"] is None


def test_figures_hold_a_few_bytes_an_item() -> None:
    n = 200_000
    judgments = _judgments(n)
    summarise(_judgments(1000), ReportOptions())  # imports and caches outside the count
    tracemalloc.start()
    try:
        summarise(judgments, ReportOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held by the figures beyond the 27-byte columns: the confidence sort order (8 bytes, and
    # 12 more while it is sorted) and one-byte codes and masks. scikit-learn on the raw
    # columns took about 60.
    assert peak / n < 28, f"{peak / n:.1f} bytes an item"  # 21 when written
