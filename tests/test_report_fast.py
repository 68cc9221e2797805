"""The report's label figures and sign test, written out on numpy so that a small report
does not import scikit-learn or scipy.stats (issue 16 item 21), equal scikit-learn's and
scipy's own functions."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_recall_fscore_support,
)

from judgecli.report.agreement import label_figures
from judgecli.report.codes import ERROR, FAIL, PASS, TIE, A, B
from judgecli.report.winrate import sign_test


def _sklearn(gold, pred, binary):
    present = sorted(set(np.concatenate([gold, pred]).tolist()) - {ERROR})
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=present, average="macro",
                                                 zero_division=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = cohen_kappa_score(gold, pred)
    out = {"agreement": accuracy_score(gold, pred), "precision": p, "recall": r, "f1": f,
           "kappa": None if np.isnan(kappa) else kappa}
    if binary:
        g, q = gold == FAIL, pred == FAIL
        out["f1_fail"] = f1_score(g, q, zero_division=0) if (g.any() or q.any()) else None
    return out


@pytest.mark.parametrize("seed", range(40))
def test_label_figures_equal_scikit_learn(seed) -> None:
    rng = np.random.default_rng(seed)
    binary = seed % 2 == 1
    classes = [PASS, FAIL] if binary else [A, B, TIE]
    n = int(rng.integers(1, 60))
    gold = rng.choice(classes[:int(rng.integers(1, len(classes) + 1))], size=n).astype(np.int8)
    pred = rng.choice([*classes, ERROR], size=n, p=None).astype(np.int8)
    if seed % 5 == 0:
        pred = gold.copy()  # perfect agreement, one class possibly: kappa undefined
    got = label_figures(gold, pred, binary=binary)
    for key, value in _sklearn(gold, pred, binary).items():
        assert (got[key] is None) == (value is None), key
        if value is not None:
            assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("n", [1, 2, 3, 10, 57, 1000, 99_999])
def test_sign_test_equals_binomtest(n) -> None:
    for k in {0, 1, n // 3, n // 2, (n + 1) // 2, n - 1, n}:
        if 0 <= k <= n:
            assert sign_test(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-6,
                                                    abs=1e-300)


def test_a_small_report_imports_neither_sklearn_nor_scipy_stats(tmp_path) -> None:
    from conftest import write_jsonl

    rows = [{"id": i, "label": "AB"[i % 2], "judgment": {
        "judge": "j", "template": "t", "verdict": "AB"[i // 3 % 2], "error": None,
        "confidence": 0.5 + i / 40, "consistent": True}} for i in range(10)]
    path = write_jsonl(tmp_path / "ten.jsonl", rows)
    code = ("import sys; from judgecli.cli.commands import main; sys.argv = ['judgecli', 'report', "
            f"{str(path)!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in done.stderr, done.stderr


@pytest.mark.parametrize("width", [60, 80, 100, 240])
def test_report_by_group_fits_the_terminal(tmp_path, width) -> None:
    """`report --by` squeezed every cell to "0…" below ~160 columns (issue 16 item 19)."""
    import io

    from rich.console import Console

    from judgecli.report import ReportOptions, build_report, render

    from conftest import write_jsonl

    rng = np.random.default_rng(0)
    rows = []
    for i in range(90):
        label, ab, ba = (str(rng.choice(["A", "B", "tie"])) for _ in range(3))
        rows.append({"id": i, "label": label, "category": ["math", "code", "writing"][i % 3],
                     "answer_a": "x" * (i % 7), "answer_b": "y" * (i % 5), "judgment": {
                         "judge": "j", "template": "t", "error": None,
                         "verdict": ab if ab == ba else "tie", "consistent": ab == ba,
                         "confidence": float(rng.uniform()),
                         "orders": [{"order": "AB", "verdict": ab, "error": None},
                                    {"order": "BA", "verdict": ba, "error": None}]}})
    path = write_jsonl(tmp_path / "j.jsonl", rows)
    summaries = build_report([str(path)], ReportOptions(by=("category",)))
    out = io.StringIO()
    render(summaries, Console(file=out, width=width, force_terminal=False, color_system=None))
    text = out.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= max(width, 60)
    for group in ("math", "code", "writing"):
        figures = next(g for g in summaries[0]["groups"] if g["group"] == group)
        assert f"{figures['agreement']:.3f}" in text and f"{figures['kappa']:.3f}" in text
