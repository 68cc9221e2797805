"""Prometheus's figures from a Prometheus-style judgment file (report/grades.py, agreement.py).

Expected values are re-stated here from prometheus-eval eval/utils.py ``calculate_results``:
absolute grading (1-5) against human grades gives Pearson, Spearman and Kendall (scipy's
``pearsonr``, ``spearmanr``, ``kendalltau``) and the share of exact matches ("Accuracy");
relative grading (A/B) gives the share of items whose verdict is the chosen answer
(``calculate_one_rel_acc``: a missing verdict counts as wrong).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_jsonl
from scipy import stats

from judgecli.report import ReportOptions, build_report


def _report(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    (summary,) = build_report([str(path)], ReportOptions(**options))
    return summary


def test_absolute_grading(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    human = rng.integers(1, 6, 200)
    grade = np.clip(human + rng.integers(-1, 2, 200), 1, 5)
    failed = set(range(0, 200, 17))
    rows = [{"id": k, "question": "q", "answer": "a", "label": int(human[k]),
             "judgment": {"score": None, "error": "unparseable"} if k in failed else
             {"score": int(grade[k]), "error": None}} for k in range(200)]
    ok = np.array([k not in failed for k in range(200)])
    out = _report(tmp_path, rows)
    assert out["mean_score"] == pytest.approx(grade[ok].mean())
    for name, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr),
                       ("kendall", stats.kendalltau)):
        want = test(grade[ok], human[ok])
        assert out[name] == pytest.approx(want.statistic, abs=1e-12)
        assert out[name + "_p"] == pytest.approx(want.pvalue, rel=1e-9)
    # "Accuracy": exact matches over every labelled item (a failed grade is a miss) ...
    hits = sum(1 for k in range(200) if ok[k] and grade[k] == human[k])
    assert out["grade_accuracy"] == pytest.approx(hits / 200)
    # ... or over the graded ones with --errors drop
    dropped = _report(tmp_path, rows, errors="drop")
    assert dropped["grade_accuracy"] == pytest.approx(hits / ok.sum())
    unlabelled = [{k: v for k, v in r.items() if k != "label"} for r in rows]
    assert _report(tmp_path, unlabelled)["grade_accuracy"] is None


def test_relative_grading(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    chosen = rng.choice(["A", "B"], 150)
    verdict = np.where(rng.random(150) < 0.8, chosen, np.where(chosen == "A", "B", "A"))
    verdict = [None if k % 23 == 0 else str(v) for k, v in enumerate(verdict)]
    rows = [{"id": k, "question": "q", "answer_a": "x", "answer_b": "y",
             "label": str(chosen[k]),
             "judgment": {"verdict": verdict[k],
                          "error": None if verdict[k] else "unparseable"}}
            for k in range(150)]
    # calculate_one_rel_acc without ties: 1 where the verdict is the chosen answer, else 0
    want = np.mean([1 if verdict[k] == chosen[k] else 0 for k in range(150)])
    assert _report(tmp_path, rows)["agreement"] == pytest.approx(want)
