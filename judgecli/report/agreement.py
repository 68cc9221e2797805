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

import warnings
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

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
    or pass / fail when ``binary``. scikit-learn computes every figure from the distinct
    (label, verdict) pairs weighted by their counts: the same figures as from the items, in
    a few bytes an item (:func:`~judgecli.report.codes.code_counts`)."""
    out: dict[str, Any] = dict.fromkeys(LABEL_KEYS)
    pairs = code_counts(gold, pred)
    if not pairs:
        return out
    gold_codes = np.array([g for g, _ in pairs], dtype=np.int8)
    pred_codes = np.array([p for _, p in pairs], dtype=np.int8)
    weight = np.array(list(pairs.values()), dtype=np.int64)
    codes, names = ((PASS, FAIL), BINARY_CLASSES) if binary else ((A, B, TIE), CLASSES)
    present = sorted({code for pair in pairs for code in pair} - {ERROR})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        precision, recall, f1, _ = precision_recall_fscore_support(
            gold_codes, pred_codes, labels=present, average="macro", zero_division=0,
            sample_weight=weight)
        kappa = cohen_kappa_score(gold_codes, pred_codes, sample_weight=weight)
    counts = confusion_matrix(gold_codes, pred_codes, labels=[*codes, ERROR],
                              sample_weight=weight)[:len(codes)]
    out.update(
        agreement=float(accuracy_score(gold_codes, pred_codes, sample_weight=weight)),
        precision=num(precision), recall=num(recall), f1=num(f1), kappa=num(kappa),
        confusion={"gold": list(names), "judge": [*names, "error"], "counts": counts.tolist()},
    )
    if binary:
        out["f1_fail"] = f1_fail(gold_codes, pred_codes, weight)
    else:
        decisive = {pair: n for pair, n in pairs.items() if TIE not in pair}
        if decisive:
            out["agreement_without_ties"] = sum(
                n for (g, p), n in decisive.items() if g == p) / sum(decisive.values())
    return out


def f1_fail(gold: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None,
            ) -> float | None:
    """F1 with "fail" the positive class. A failed judgment (ERROR) is a negative: it did not
    flag the item. Undefined (None) when no label and no verdict is fail."""
    gold_fail, pred_fail = gold == FAIL, pred == FAIL
    if not (gold_fail.any() or pred_fail.any()):
        return None
    return float(f1_score(gold_fail, pred_fail, pos_label=True, zero_division=0,
                          sample_weight=weight))


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
