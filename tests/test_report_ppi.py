"""Judge-corrected figures (PPI++) when labels cover part of the items: report/ppi.py and
report/corrected.py against ppi_py itself (pip ppi-python, a test dependency) and against a
re-statement of the formulas of Angelopoulos, Duchi & Zrnic (2023), on real PandaLM data
(../shared/data; skipped where absent) and on generated files."""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_records import binary
from test_report_helpers import record, single, write

from judgecli.report import ReportOptions, build_report
from judgecli.report.ppi import LogisticData, ppi_logistic, ppi_mean

ppi_py = pytest.importorskip("ppi_py")
from ppi_py.baselines import classical_mean_ci  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXACT = 1e-9
SCORE = {"A": 1.0, "B": 0.0, "tie": 0.5}


def _ppi_py_mean(y: np.ndarray, yhat: np.ndarray, yhat_u: np.ndarray,
                 alpha: float = 0.05) -> tuple[float, list[float], list[float]]:
    """ppi_py's power-tuned estimate, interval and the classical interval."""
    estimate = float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u)))
    low, high = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=alpha)
    c_low, c_high = classical_mean_ci(y, alpha=alpha)
    return estimate, [float(np.squeeze(low)), float(np.squeeze(high))], \
        [float(c_low), float(c_high)]


def _restated(y: list[float], yhat: list[float], yhat_u: list[float],
              alpha: float = 0.05) -> dict[str, Any]:
    """PPI++ for a mean, from the paper (arXiv:2311.01453, Example 6.1 with the plug-in
    λ̂ = Cov(Y, Ŷ) / ((1 + n/N) Var(Ŷ)), clipped to [0, 1]) in plain Python, with ppi_py's
    choices of variance: population covariance, sample variance of every prediction."""
    n, big_n = len(y), len(yhat_u)
    my, mh = statistics.fmean(y), statistics.fmean(yhat)
    cov = sum((a - my) * (b - mh) for a, b in zip(y, yhat, strict=True)) / n
    lam = min(1.0, max(0.0, cov / ((1 + n / big_n) * statistics.variance(yhat + yhat_u))))
    rect = [a - lam * b for a, b in zip(y, yhat, strict=True)]
    estimate = lam * statistics.fmean(yhat_u) + statistics.fmean(rect)
    se = math.sqrt(lam ** 2 * statistics.pvariance(yhat_u) / big_n
                   + statistics.pvariance(rect) / n)
    z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
    return {"estimate": estimate, "ci": [estimate - z * se, estimate + z * se], "lambda": lam}


def _close(a: Any, b: Any, tol: float = EXACT) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                            rtol=0, atol=tol))


@pytest.mark.parametrize("seed", range(6))
def test_ppi_mean_equals_ppi_py_and_the_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, big_n = int(rng.integers(5, 200)), int(rng.integers(1, 2000))
    truth = rng.choice([0.0, 0.5, 1.0], size=n + big_n, p=[0.45, 0.15, 0.4])
    noise = rng.choice([0.0, 0.5, 1.0], size=n + big_n)
    pred = np.where(rng.random(n + big_n) < rng.uniform(0, 1), truth, noise)
    if seed == 5:  # grades, not shares
        truth, pred = rng.normal(5, 2, n + big_n), rng.normal(5, 2, n + big_n)
        pred = 0.6 * truth + pred * 0.4
    y, yhat, yhat_u = truth[:n], pred[:n], pred[n:]
    for alpha in (0.05, 0.1):
        mine = ppi_mean(y, yhat, yhat_u, alpha)
        estimate, ci, classical = _ppi_py_mean(y, yhat, yhat_u, alpha)
        assert abs(mine.estimate - estimate) < EXACT
        assert _close(mine.ci, ci) and _close(mine.classical_ci, classical)
        again = _restated(y.tolist(), yhat.tolist(), yhat_u.tolist(), alpha)
        assert abs(mine.lam - again["lambda"]) < EXACT
        assert abs(mine.estimate - again["estimate"]) < EXACT and _close(mine.ci, again["ci"])
        assert mine.effective_labels == pytest.approx(
            n * (classical[1] - classical[0]) ** 2 / (ci[1] - ci[0]) ** 2, rel=1e-9)


def test_a_useless_judge_gets_lambda_zero_and_the_labels_interval() -> None:
    """One prediction everywhere: ppi_py's λ is 0/0 (NaN); here λ = 0, the labels alone."""
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.5])
    mine = ppi_mean(y, np.full(5, 0.5), np.full(40, 0.5), 0.05)
    assert mine.lam == 0 and mine.estimate == pytest.approx(y.mean())
    assert _close(mine.ci, classical_mean_ci(y, alpha=0.05))


# --- PandaLM: report --labels on part of its items ----------------------------------------

def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


def _pandalm_raw() -> tuple[list[str], list[float], list[float], list[str]]:
    """The raw files: gold (majority of three), gpt-3.5-turbo's verdict (garbage: half),
    and each item's pair of models (cmp_key), read without judgecli."""
    items = json.loads(_shared("pandalm", "testset-v1.json").read_text())
    results = {str(r["idx"]): r["gpt_result"] for r in json.loads(
        _shared("pandalm", "gpt-3.5-turbo-testset-v1.json").read_text())}
    word = {0: "tie", 1: "A", 2: "B"}
    gold = [word[Counter([r["annotator1"], r["annotator2"], r["annotator3"]]
                         ).most_common(1)[0][0]] for r in items]
    pred = [{"1": 1.0, "2": 0.0, "Tie": 0.5}.get(results[str(r["idx"])], 0.5) for r in items]
    return gold, [SCORE[g] for g in gold], pred, [r["cmp_key"] for r in items]


def _pandalm_files(tmp_path: Path, labelled: list[int], *, models: bool = False,
                   keep: list[int] | None = None) -> tuple[str, str]:
    """PandaLM converted (gpt-3.5-turbo), without labels, and a labels file for ``labelled``."""
    from judgecli.report.convert import pandalm

    rows = list(pandalm(str(_shared("pandalm", "testset-v1.json")),
                        str(_shared("pandalm", "gpt-3.5-turbo-testset-v1.json"))))
    labels = [{"id": rows[i]["id"], "label": rows[i]["label"]} for i in labelled]
    out = []
    for k in keep if keep is not None else range(len(rows)):
        row = dict(rows[k])
        row.pop("label")
        if models:
            row["model_a"], row["model_b"] = row["cmp_key"].split("_")
        out.append(row)
    return write(tmp_path / "judged.jsonl", out), write(tmp_path / "gold.jsonl", labels)


def test_report_corrected_win_rate_equals_ppi_py_on_pandalm(tmp_path: Path) -> None:
    """The issue's done-when: report with a partial --labels prints the corrected win rate
    equal to ppi_py on the same inputs."""
    gold, y, pred, _ = _pandalm_raw()
    labelled = sorted(random.Random(7).sample(range(len(y)), 150))
    judged, labels = _pandalm_files(tmp_path, labelled)
    unlabelled = sorted(set(range(len(y))) - set(labelled))
    ys, yh = np.array(y)[labelled], np.array(pred)[labelled]
    yu = np.array(pred)[unlabelled]
    estimate, ci, classical = _ppi_py_mean(ys, yh, yu)

    (summary,) = build_report([judged], ReportOptions(labels=labels))
    win = summary["corrected"]["win_rate"]
    assert win["method"] == "ppi++" and summary["corrected"]["not_random"] is None
    assert (win["n_labelled"], win["n_unlabelled"]) == (150, len(y) - 150)
    assert abs(win["estimate"] - estimate) < EXACT and _close(win["ci"], ci)
    assert _close(win["classical_ci"], classical)
    assert win["judge_only"] == pytest.approx(sum(pred) / len(pred), abs=EXACT)
    assert win["classical_estimate"] == pytest.approx(ys.mean(), abs=EXACT)

    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["corrected"]["win_rate"] == win
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{estimate:.3f}" in proc.stdout and f"[{ci[0]:.3f}, {ci[1]:.3f}]" in proc.stdout
    # what the interval means, printed with it
    text = " ".join(proc.stdout.split())
    assert "95% CI is a normal-approximation interval for the figure" in text
    assert "valid if the labelled items are a uniform random subset" in text


def test_a_narrow_terminal_gets_every_cell_whole(tmp_path: Path) -> None:
    """At 100 columns the eleven columns do not fit: each row is printed as its own
    (column, value) table rather than cells squeezed to "0…"."""
    from rich.console import Console

    from judgecli.report import render

    _, y, pred, _ = _pandalm_raw()
    labelled = sorted(random.Random(7).sample(range(len(y)), 150))
    judged, labels = _pandalm_files(tmp_path, labelled)
    (summary,) = build_report([judged], ReportOptions(labels=labels))
    win = summary["corrected"]["win_rate"]
    for width in (100, 240):
        console = Console(width=width, record=True, file=open(os.devnull, "w"))
        render([summary], console)
        text = console.export_text()
        part = text[text.index("judge-corrected figures"):]
        table = part[:part.index("corrected: PPI++")]
        assert "…" not in table, table
        assert all(len(line) <= width for line in table.splitlines())
        assert f"[{win['ci'][0]:.3f}, {win['ci'][1]:.3f}]" in table
        assert f"[{win['classical_ci'][0]:.3f}, {win['classical_ci'][1]:.3f}]" in table
        # wide: one row per line; narrow: a line per column
        assert (f"{win['estimate']:.3f}" in [c.strip() for c in table.split("│")]) \
            and ("│ corrected " in table) == (width == 100)


def test_alpha_sets_the_level(tmp_path: Path) -> None:
    _, y, pred, _ = _pandalm_raw()
    labelled = sorted(random.Random(3).sample(range(len(y)), 80))
    judged, labels = _pandalm_files(tmp_path, labelled)
    rest = sorted(set(range(len(y))) - set(labelled))
    _, ci, classical = _ppi_py_mean(np.array(y)[labelled], np.array(pred)[labelled],
                                    np.array(pred)[rest], alpha=0.2)
    (summary,) = build_report([judged], ReportOptions(labels=labels, alpha=0.2))
    assert _close(summary["corrected"]["win_rate"]["ci"], ci)
    assert _close(summary["corrected"]["win_rate"]["classical_ci"], classical)
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels, "--alpha", "0.2"], capture_output=True, text=True,
                          timeout=120)
    assert "80% CI" in proc.stdout, proc.stdout
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels, "--alpha", "1.5"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "judgecli: error: --alpha must be between 0 and 1, got 1.5"


def test_by_group_each_group_equals_ppi_py(tmp_path: Path) -> None:
    _, y, pred, keys = _pandalm_raw()
    labelled = sorted(random.Random(11).sample(range(len(y)), 300))
    judged, labels = _pandalm_files(tmp_path, labelled)
    (summary,) = build_report([judged], ReportOptions(labels=labels, by=("cmp_key",)))
    assert summary["corrected"]["not_random"] is None
    seen = 0
    for group in summary["groups"]:
        items = [k for k in range(len(y)) if keys[k] == group["group"]]
        lab = [k for k in items if k in set(labelled)]
        rest = [k for k in items if k not in set(labelled)]
        estimate, ci, _ = _ppi_py_mean(np.array(y)[lab], np.array(pred)[lab],
                                       np.array(pred)[rest])
        win = group["corrected"]["win_rate"]
        assert (win["n_labelled"], win["n_unlabelled"]) == (len(lab), len(rest))
        assert abs(win["estimate"] - estimate) < EXACT and _close(win["ci"], ci)
        seen += 1
    assert seen == 10


def test_labels_that_are_not_a_random_subset_get_no_interval(tmp_path: Path) -> None:
    gold, y, pred, keys = _pandalm_raw()
    said_a = [k for k in range(len(y)) if pred[k] == 1.0][:100]  # only where the judge said A
    judged, labels = _pandalm_files(tmp_path, said_a)
    (summary,) = build_report([judged], ReportOptions(labels=labels))
    corrected = summary["corrected"]
    assert corrected["win_rate"] is None and "the judge's verdict (A)" in corrected["not_random"]
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels], capture_output=True, text=True, timeout=120)
    text = " ".join(proc.stdout.split())
    assert "no judge-corrected figure: the labelled items are not a random subset" in text
    assert "judge-corrected figures" not in text

    # labelled mostly in two of the ten model pairs: the chi-square test across --by groups
    pairs = sorted(set(keys))
    skewed = [k for k in range(len(y)) if keys[k] in pairs[:2]][:120] + \
        [k for k in range(len(y)) if keys[k] not in pairs[:2]][:30]
    judged, labels = _pandalm_files(tmp_path, skewed)
    (summary,) = build_report([judged], ReportOptions(labels=labels, by=("cmp_key",)))
    reason = summary["corrected"]["not_random"]
    assert reason.startswith("the share of items labelled differs across the --by group")
    # within one group the subset may well be random: each group is judged on its own
    assert any(g["corrected"] and g["corrected"]["win_rate"] for g in summary["groups"])


def test_a_random_subset_passes_the_check(tmp_path: Path) -> None:
    """Twenty random subsets of 100 PandaLM items, tested on the judge's verdict and the
    pair of models: none refused (each test refuses a random subset with probability about
    0.001)."""
    from judgecli.report.corrected import not_random

    _, y, pred, keys = _pandalm_raw()
    verdict = np.searchsorted([0.0, 0.5, 1.0], pred)
    pair = np.unique(keys, return_inverse=True)[1].ravel()
    factors = {"verdict": (verdict, ["B", "tie", "A"]),
               "pairs": (pair, sorted(set(keys)))}
    rng = np.random.default_rng(0)
    for _ in range(20):
        labelled = np.zeros(len(y), dtype=bool)
        labelled[rng.choice(len(y), 100, replace=False)] = True
        assert not_random(labelled, factors) is None


# --- pass rate, mean grade ----------------------------------------------------------------

def test_pass_rate_and_mean_grade_equal_ppi_py(tmp_path: Path) -> None:
    rng = random.Random(5)
    truth = [rng.random() < 0.6 for _ in range(300)]
    said = [t if rng.random() < 0.8 else not t for t in truth]
    labelled = set(rng.sample(range(300), 60))
    rows = [binary(i, "pass" if s else "fail", label=("pass" if t else "fail")
                   if i in labelled else None)
            for i, (t, s) in enumerate(zip(truth, said, strict=True))]
    rows[7]["judgment"].update(verdict=None, error="unparseable")  # predicts half
    pred = [1.0 if s else 0.0 for s in said]
    pred[7] = 0.5
    lab, rest = sorted(labelled), sorted(set(range(300)) - labelled)
    estimate, ci, classical = _ppi_py_mean(np.array(truth, dtype=float)[lab],
                                           np.array(pred)[lab], np.array(pred)[rest])
    (summary,) = build_report([write(tmp_path / "b.jsonl", rows)], ReportOptions())
    got = summary["corrected"]["pass_rate"]
    assert abs(got["estimate"] - estimate) < EXACT and _close(got["ci"], ci)
    assert _close(got["classical_ci"], classical) and summary["corrected"]["win_rate"] is None

    grades = [rng.randint(1, 10) for _ in range(250)]
    scores = [min(10, max(1, g + rng.choice([-2, -1, 0, 0, 1]))) for g in grades]
    labelled = set(rng.sample(range(250), 50))
    rows = [single(i, float(s), label=g if i in labelled else None)
            for i, (g, s) in enumerate(zip(grades, scores, strict=True))]
    rows.append(single(250, None, error="unparseable"))  # a grade without a number: left out
    lab, rest = sorted(labelled), sorted(set(range(250)) - labelled)
    estimate, ci, _ = _ppi_py_mean(np.array(grades, dtype=float)[lab],
                                   np.array(scores, dtype=float)[lab],
                                   np.array(scores, dtype=float)[rest])
    (summary,) = build_report([write(tmp_path / "s.jsonl", rows)], ReportOptions())
    got = summary["corrected"]["mean_score"]
    assert got["n_unlabelled"] == 200
    assert abs(got["estimate"] - estimate) < EXACT and _close(got["ci"], ci)


def test_failed_judgments_predict_half_or_are_dropped(tmp_path: Path) -> None:
    rng = random.Random(2)
    rows, y, pred, failed = [], [], [], []
    for i in range(200):
        label = rng.choice(["A", "B", "tie"])
        verdict = label if rng.random() < 0.7 else rng.choice(["A", "B", "tie"])
        fails = rng.random() < 0.1
        rows.append(record(i, None if fails else verdict, ab=None if fails else "same",
                           ba=None, order_errors=(fails, False),
                           error="AB: unparseable" if fails else None,
                           label=label if i % 4 == 0 else None))
        y.append(SCORE[label] if i % 4 == 0 else math.nan)
        pred.append(0.5 if fails else SCORE[verdict])
        failed.append(fails)
    path = write(tmp_path / "f.jsonl", rows)
    for errors, keep in (("wrong", [True] * 200), ("tie", [True] * 200),
                         ("drop", [not f for f in failed])):
        ys, ps = np.array(y)[keep], np.array(pred)[keep]
        has = ~np.isnan(ys)
        estimate, ci, _ = _ppi_py_mean(ys[has], ps[has], ps[~has])
        (summary,) = build_report([path], ReportOptions(errors=errors))
        got = summary["corrected"]["win_rate"]
        assert abs(got["estimate"] - estimate) < EXACT and _close(got["ci"], ci), errors


def test_too_few_labels_say_so(tmp_path: Path) -> None:
    rows = [record(i, "A" if i % 3 else "B", label=("A" if i % 2 else "tie") if i < 9 else None)
            for i in range(40)]
    path = write(tmp_path / "few.jsonl", rows)
    (summary,) = build_report([path], ReportOptions())
    corrected = summary["corrected"]
    assert corrected["win_rate"] is None and corrected["n_labelled"] == 9
    assert corrected["too_few"] == ("9 labelled items; a normal-approximation interval "
                                    "needs at least 10")
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", path],
                          capture_output=True, text=True, timeout=120)
    assert "few.jsonl: no judge-corrected figure: 9 labelled items" in proc.stdout


def test_no_corrected_figures_with_every_label_or_none(tmp_path: Path) -> None:
    rows = [record(i, "A", label="A" if i % 2 else "B") for i in range(20)]
    (summary,) = build_report([write(tmp_path / "all.jsonl", rows)], ReportOptions())
    assert summary["corrected"] is None
    rows = [record(i, "A") for i in range(20)]
    (summary,) = build_report([write(tmp_path / "none.jsonl", rows)], ReportOptions())
    assert summary["corrected"] is None


def test_ppi_py_is_never_imported_and_corrected_only_with_partial_labels(
        tmp_path: Path) -> None:
    rows = [record(i, "A" if i % 3 else "B", label=("A" if i % 2 else "B") if i < 10 else None)
            for i in range(30)]
    full = [dict(r, label="A") for r in rows]
    code = ("import sys; from judgecli.report import build_report, ReportOptions; "
            "build_report([sys.argv[1]], ReportOptions()); "
            "print('ppi_py' in sys.modules, 'judgecli.report.corrected' in sys.modules)")
    for file, expected in ((write(tmp_path / "p.jsonl", rows), "False True"),
                           (write(tmp_path / "full.jsonl", full), "False False")):
        proc = subprocess.run([sys.executable, "-c", code, file], capture_output=True,
                              text=True, timeout=120)
        assert proc.stdout.split() == expected.split(), proc.stderr


# --- Bradley-Terry ratings ----------------------------------------------------------------

def _design(models: list[tuple[str, str]], anchor: str) -> tuple[np.ndarray, list[str]]:
    names = sorted({m for pair in models for m in pair} - {anchor})
    x = np.zeros((len(models), len(names)))
    for row, (a, b) in enumerate(models):
        if a != anchor:
            x[row, names.index(a)] += 1
        if b != anchor:
            x[row, names.index(b)] -= 1
    return x, names


def test_ppi_logistic_equals_ppi_py() -> None:
    """Bradley-Terry's design, binary labels (ppi_py starts from scikit-learn's fit of the
    labels, which takes no fractional ones), predictions with ties. ppi_py minimises with
    L-BFGS (ftol 1e-15), these with Newton's method: they agree to about 1e-10."""
    rng = np.random.default_rng(4)
    strength = np.array([0.0, 0.6, -0.4, 1.1])
    games = 700
    a = rng.integers(0, 4, games)
    b = (a + rng.integers(1, 4, games)) % 4
    y = (rng.random(games) < 1 / (1 + np.exp(strength[b] - strength[a]))).astype(float)
    yhat = np.where(rng.random(games) < 0.75, y, rng.choice([0.0, 0.5, 1.0], games))
    x, _ = _design([(str(i), str(j)) for i, j in zip(a, b, strict=True)], "0")
    n = 150
    mine = ppi_logistic(LogisticData(x[:n], y[:n], yhat[:n], x[n:], yhat[n:]), 0.05)
    estimate = ppi_py.ppi_logistic_pointestimate(x[:n], y[:n], yhat[:n], x[n:], yhat[n:])
    low, high = ppi_py.ppi_logistic_ci(x[:n], y[:n], yhat[:n], x[n:], yhat[n:], alpha=0.05)
    c_low, c_high = ppi_py.ppi_logistic_ci(x[:n], y[:n], yhat[:n], x[n:], yhat[n:],
                                           alpha=0.05, lam=0)
    assert _close(mine.estimate, estimate, 1e-7)
    assert _close(mine.ci[:, 0], low, 1e-7) and _close(mine.ci[:, 1], high, 1e-7)
    assert _close(mine.classical_ci[:, 0], c_low, 1e-6)
    assert _close(mine.classical_ci[:, 1], c_high, 1e-6)


def test_report_ratings_equal_ppi_py_on_pandalm(tmp_path: Path) -> None:
    """PandaLM's five models (cmp_key as model_a / model_b), the items people did not call a
    tie; 200 of them labelled. The ratings are ppi_py's coefficients on the Elo scale."""
    _, y, pred, keys = _pandalm_raw()
    keep = [k for k in range(len(y)) if y[k] != 0.5]
    labelled = sorted(random.Random(1).sample(keep, 200))
    judged, labels = _pandalm_files(tmp_path, labelled, models=True, keep=keep)
    (summary,) = build_report([judged], ReportOptions(labels=labels, baseline="llama-7b"))
    ratings = summary["corrected"]["ratings"]
    assert ratings["anchor"] == "llama-7b" and summary["corrected"]["not_random"] is None
    # a file of several model pairs: no win rate pooled over the pairs in its head, one in
    # each pair's row
    assert summary["corrected"]["win_rate"] is None and summary["n_model_pairs"] > 1
    assert all(g["corrected"]["win_rate"] or g["corrected"]["too_few"] or
               g["corrected"]["not_random"] for g in summary["groups"])

    pairs = [tuple(keys[k].split("_")) for k in keep]
    x, names = _design(pairs, "llama-7b")
    is_lab = np.isin(keep, labelled)
    ys, ps = np.array(y)[keep], np.array(pred)[keep]
    args = (x[is_lab], ys[is_lab], ps[is_lab], x[~is_lab], ps[~is_lab])
    estimate = ppi_py.ppi_logistic_pointestimate(*args)
    low, high = ppi_py.ppi_logistic_ci(*args, alpha=0.05)
    scale = 400 / math.log(10)
    by_model = {r["model"]: r for r in ratings["models"]}
    assert by_model["llama-7b"]["rating"] == 1000 and by_model["llama-7b"]["anchor"]
    for k, name in enumerate(names):
        row = by_model[name]
        assert row["rating"] == pytest.approx(1000 + scale * estimate[k], abs=1e-4)
        assert _close(row["ci"], [1000 + scale * low[k], 1000 + scale * high[k]], 1e-4)
    assert [r["rating"] for r in ratings["models"]] == sorted(
        (r["rating"] for r in ratings["models"]), reverse=True)

    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", judged, "--labels",
                           labels, "--baseline", "llama-7b"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "judge-corrected Bradley-Terry ratings" in proc.stdout
    assert "llama-7b fixed at 1000" in " ".join(proc.stdout.split())
