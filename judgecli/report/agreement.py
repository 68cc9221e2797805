"""Agreement with gold labels: pairwise verdicts (A / B / tie) and pass / fail verdicts
(grades against numeric labels: ``grades``).

Pairwise, following the published evaluation scripts:

* ``agreement``, ``precision``, ``recall``, ``f1``: scikit-learn's ``accuracy_score`` and
  macro averages, as baaivision/JudgeLM ``judgelm/llm_judge/eval_model_judgement.py``
  (``calculate_metrics``) computes them. The macro average runs over the classes that occur
  in the labels or the verdicts (scikit-learn's default, which JudgeLM uses); when all of
  A, B and tie occur this is exactly WeOpenML/PandaLM ``data/compute_metrics.py``, which
  always averages over all three classes (a class with no true and no predicted item would
  count there as 0). A class never predicted has precision 0 (both scripts).
* ``agreement_without_ties``: lm-sys/FastChat ``fastchat/llm_judge/compute_agreement.py``
  (``get_mt_bench_agreement`` with ``ban=["tie"]``): items where the label or the verdict
  is a tie are left out; MT-Bench's agreement "with ties" is ``agreement``.
* ``agreement_by_order``, ``agreement_both_orders``: GAIR-NLP/auto-j
  ``codes/leaderboard/pairwise_eval.py`` (``check_res``): the verdict of each order against
  the label, and the share of items correct in both orders, over all labelled items.

Binary (pass / fail) judgments get the same figures over the classes pass and fail, and
``f1_fail``: the F1 of the fail class alone, the positive class of a safety-style check,
where a missed failure is what matters (scikit-learn's ``f1_score`` with fail as the
positive label). No ties there, so no ``agreement_without_ties``.

Differences on purpose: JudgeLM and PandaLM turn a failed judgment into a tie; here that is
``--errors tie``. With ``--errors wrong`` (the default) a failed judgment is its own class
(``ERROR``) that never matches a label, is in no class's precision, and lowers the recall of
its true class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .codes import (
    ABSENT,
    BINARY_CLASSES,
    CLASSES,
    ERROR,
    FAIL,
    PASS,
    TIE,
    A,
    B,
    code_counts,
    num,
    share,
)

LABEL_KEYS = ("agreement", "agreement_without_ties", "precision", "recall", "f1", "f1_fail",
              "kappa", "confusion")
ORDER_KEYS = ("agreement_by_order", "agreement_both_orders")


def label_figures(gold: np.ndarray, pred: np.ndarray, *, binary: bool = False,
                  ) -> dict[str, Any]:
    """Verdicts (codes, or 3 for a failure counted wrong) against labels (codes): A / B / tie,
    or pass / fail when ``binary``. Every figure comes from the weighted confusion matrix of
    the distinct (label, verdict) pairs: a few bytes an item
    (:func:`~judgecli.report.codes.code_counts`). They are scikit-learn's definitions
    (``accuracy_score``, ``precision_recall_fscore_support(average="macro",
    zero_division=0)`` over the classes present, ``cohen_kappa_score``, ``f1_score``),
    written out on the confusion matrix because importing ``sklearn.metrics`` costs more
    than a small report takes (0.9 s of 1.6 s); tests/test_report_stats.py checks them
    against scikit-learn itself."""
    out: dict[str, Any] = dict.fromkeys(LABEL_KEYS)
    pairs = code_counts(gold, pred)
    if not pairs:
        return out
    codes, names = ((PASS, FAIL), BINARY_CLASSES) if binary else ((A, B, TIE), CLASSES)
    every = sorted({code for pair in pairs for code in pair})
    at = {code: i for i, code in enumerate(every)}
    matrix = np.zeros((len(every), len(every)), dtype=np.int64)  # rows: label, cols: verdict
    for (g, p), n in pairs.items():
        matrix[at[g], at[p]] += n
    present = [at[c] for c in every if c != ERROR]
    precision, recall, f1 = _macro_prf(matrix, present)
    counts = np.array([[pairs.get((g, p), 0) for p in (*codes, ERROR)] for g in codes])
    out.update(
        agreement=float(np.trace(matrix) / matrix.sum()),
        precision=num(precision), recall=num(recall), f1=num(f1), kappa=num(_kappa(matrix)),
        confusion={"gold": list(names), "judge": [*names, "error"], "counts": counts.tolist()},
    )
    if binary:
        out["f1_fail"] = _f1_positive(matrix, at.get(FAIL))
    else:
        decisive = {pair: n for pair, n in pairs.items() if TIE not in pair}
        if decisive:
            out["agreement_without_ties"] = sum(
                n for (g, p), n in decisive.items() if g == p) / sum(decisive.values())
    return out


def _macro_prf(matrix: np.ndarray, classes: list[int]) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over ``classes`` (zero where undefined)."""
    tp = np.diag(matrix)[classes].astype(float)
    predicted = matrix.sum(axis=0)[classes]
    true = matrix.sum(axis=1)[classes]
    with np.errstate(all="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(true > 0, tp / np.maximum(true, 1), 0.0)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


def _kappa(matrix: np.ndarray) -> float:
    """Cohen's kappa of the (weighted) confusion matrix; NaN where chance agreement is 1."""
    total = matrix.sum()
    expected = np.outer(matrix.sum(axis=1), matrix.sum(axis=0)) / total
    off = ~np.eye(len(matrix), dtype=bool)
    chance = expected[off].sum()
    return float(1 - matrix[off].sum() / chance) if chance else float("nan")


def _f1_positive(matrix: np.ndarray, positive: int | None) -> float | None:
    if positive is None:
        return None  # no label and no verdict is the positive class
    tp = matrix[positive, positive]
    predicted, true = matrix[:, positive].sum(), matrix[positive, :].sum()
    return float(2 * tp / (predicted + true)) if predicted + true else 0.0


def order_figures(gold: np.ndarray, ab: np.ndarray, ba: np.ndarray) -> dict[str, Any]:
    """Each order's verdict (original A/B terms; -2 = order not judged) against labels."""
    by_order = {name: share(order == gold, order != ABSENT)
                for name, order in (("AB", ab), ("BA", ba))}
    both = (ab != ABSENT) & (ba != ABSENT)
    return {
        "agreement_by_order": by_order if any(v is not None for v in by_order.values())
        else None,
        "agreement_both_orders": share((ab == gold) & (ba == gold), both),
    }
