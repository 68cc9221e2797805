"""Helpers for the report tests: judgment records, and the published scripts' own ways of
computing each figure, rewritten here as plain loops so the report is checked against an
independent computation (not against the same library call)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def record(i: Any, verdict: str | None, *, label: Any = None, ab: str | None = "same",
           ba: str | None = "same", confidence: float | None = None,
           error: str | None = None, a: str = "an answer", b: str = "another answer",
           order_errors: tuple[bool, bool] = (False, False), **extra: Any) -> dict[str, Any]:
    """A pairwise judgment record as ``judgecli judge`` writes it.

    ``ab``/``ba``: each order's verdict in original A/B terms; "same" copies ``verdict``;
    None for ``ba`` with ``order_errors[1]`` False means that order was not judged.
    """
    orders = []
    for name, value, failed in (("AB", ab, order_errors[0]), ("BA", ba, order_errors[1])):
        value = verdict if value == "same" else value
        if value is None and not failed and name == "BA":
            continue
        orders.append({"order": name, "text": "9 8", "scores": [9.0, 8.0], "score_a": 9.0,
                       "score_b": 8.0, "verdict": None if failed else value, "probs": None,
                       "error": "unparseable: 'x'" if failed else None})
    out: dict[str, Any] = {"id": i, "question": "q", "answer_a": a, "answer_b": b}
    if label is not None:
        out["label"] = label
    out.update(extra)
    out["judgment"] = {"judge": "test", "template": "judgelm-pair", "mode": "score",
                       "verdict": None if error else verdict, "score_a": None,
                       "score_b": None, "confidence": confidence,
                       "consistent": None, "error": error, "orders": orders}
    return out


def single(i: Any, score: float | None, *, label: Any = None,
           error: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": i, "question": "q", "answer": "a"}
    if label is not None:
        out["label"] = label
    out["judgment"] = {"judge": "test", "template": "judgelm-single", "mode": "score",
                       "verdict": None, "score": score, "confidence": None,
                       "consistent": None, "error": error,
                       "orders": [{"order": "AB", "text": "7", "scores": [score],
                                   "error": error}]}
    return out


def write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def report_rows(tmp_path: Path, rows: list[dict[str, Any]], name: str = "j.jsonl",
                **options: Any) -> dict[str, Any]:
    """The report of one file of these rows, written under ``tmp_path`` as ``name``."""
    from judgecli.report import ReportOptions, build_report

    (summary,) = build_report([write(tmp_path / name, rows)], ReportOptions(**options))
    return summary


# --- the published scripts' computations, as loops -------------------------------------

def pandalm_metrics(gold: list[int], pred: list[int]) -> dict[str, float]:
    """WeOpenML/PandaLM data/compute_metrics.py ``compute_metrics`` (classes 0, 1, 2)."""
    confusion: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    classes = [0, 1, 2]
    accuracy = sum(confusion[c][c] for c in classes) / sum(
        sum(confusion[c].values()) for c in classes)
    per = {}
    for c in classes:
        tp = confusion[c][c]
        fp = sum(confusion[x][c] for x in classes) - tp
        fn = sum(confusion[c][x] for x in classes) - tp
        precision = tp / (tp + fp) if tp + fp else 0
        recall = tp / (tp + fn) if tp + fn else 0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0
        per[c] = (precision, recall, f1)
    return {"accuracy": accuracy, "precision": sum(v[0] for v in per.values()) / 3,
            "recall": sum(v[1] for v in per.values()) / 3,
            "f1": sum(v[2] for v in per.values()) / 3}


def judgelm_bias(ab: list[str], ba: list[str]) -> dict[str, float]:
    """baaivision/JudgeLM eval_model_judgement.py ``calculate_metrics``, its loop verbatim
    in spirit: win lists in each file's own terms (1 = first shown wins)."""
    seq = [{"A": 1, "B": -1, "tie": 0}[v] for v in ab]  # AB: the first shown is A
    rev = [{"B": 1, "A": -1, "tie": 0}[v] for v in ba]  # BA: the first shown is B
    same = before = after = 0
    for i in range(len(seq)):
        s = -seq[i]  # JudgeLM flips the sequential list to the reversed file's terms
        if s == rev[i]:
            same += 1
        elif s - rev[i] > 0:
            after += 1
        elif s - rev[i] < 0:
            before += 1
    n = len(seq)
    return {"consistency": same / n, "prefer_first": before / n, "prefer_second": after / n,
            "position_bias": abs(before - after) / n, "total_bias": (before + after) / n}


def autoj_pairwise(gold: list[str], ab: list[str], ba: list[str]) -> dict[str, float]:
    """GAIR-NLP/auto-j codes/leaderboard/pairwise_eval.py ``check_res`` summed over items."""
    correct = [0, 0]
    both = disagree = 0
    for g, p, q in zip(gold, ab, ba, strict=True):
        correct[0] += g == p
        correct[1] += g == q
        both += p == q == g
        disagree += p != q
    n = len(gold)
    return {"AB": correct[0] / n, "BA": correct[1] / n, "both": both / n,
            "consistency": 1 - disagree / n}


def fastchat_agreement(judge: list[str], human: list[str], ban: list[str]) -> float | None:
    """lm-sys/FastChat compute_agreement.py ``get_mt_bench_agreement`` (one vote each)."""
    agree = total = 0
    for j, h in zip(judge, human, strict=True):
        if ("tie" if "tie" in j else j) in ban or ("tie" if "tie" in h else h) in ban:
            continue
        total += 1
        agree += ("tie" in j and "tie" in h) or j == h
    return agree / total if total else None


def kappa(gold: list[Any], pred: list[Any]) -> float:
    n = len(gold)
    observed = sum(g == p for g, p in zip(gold, pred, strict=True)) / n
    classes = set(gold) | set(pred)
    expected = sum((gold.count(c) / n) * (pred.count(c) / n) for c in classes)
    return (observed - expected) / (1 - expected)


def auroc(correct: list[bool], confidence: list[float]) -> float:
    """The probability that a right item is more confident than a wrong one (ties half)."""
    pos = [c for c, ok in zip(confidence, correct, strict=True) if ok]
    neg = [c for c, ok in zip(confidence, correct, strict=True) if not ok]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def ece_loop(correct: list[bool], confidence: list[float], bins: int = 10) -> float:
    """Guo et al. 2017, eq. (3), with bins ((m-1)/M, m/M] and 0 in the first bin."""
    total = 0.0
    n = len(correct)
    edges = np.linspace(0, 1, bins + 1)
    for m in range(bins):
        inside = [i for i, c in enumerate(confidence)
                  if (edges[m] < c <= edges[m + 1]) or (m == 0 and c == 0)]
        if inside:
            acc = sum(correct[i] for i in inside) / len(inside)
            conf = sum(confidence[i] for i in inside) / len(inside)
            total += len(inside) / n * abs(acc - conf)
    return total


def test_helpers_agree_with_each_other() -> None:
    # On the same verdicts Auto-J's and JudgeLM's consistency are one figure.
    ab, ba = ["A", "B", "tie", "A"], ["A", "A", "tie", "tie"]
    assert judgelm_bias(ab, ba)["consistency"] == autoj_pairwise(ab, ab, ba)["consistency"]
