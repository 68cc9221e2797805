"""Escalation with a guarantee (issue 21 item 2): `calibrate --delta` chooses the threshold
as Trust or Escalate (Jung, Brahman, Choi 2024) does, and it holds its target on items it
did not see in at least 1 - delta of random splits, where the empirical threshold misses
about half the time."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, write_jsonl
from scipy.optimize import brentq
from scipy.stats import binom

from judgecli.calibration import calibrate, escalate_mask, labelled_from
from judgecli.calibration.fit import certified_threshold, clopper_pearson_upper


def restated(phat: np.ndarray, correct: np.ndarray, alpha: float, delta: float) -> float:
    """The paper's procedure with the original code's pieces (jaehunjung1/cascaded-selective-
    evaluation, commit 1b969f2, cascaded_evaluation/util.py): lambdas = linspace(0, 1, 5000)
    keeping >= 30 items; R+ the brentq root of binom.cdf(R * n, n, r) - delta on (0, 0.9999);
    fixed-sequence testing from the top, the last lambda whose bound is <= alpha (inf: none)."""
    def n_of(lam: float) -> int:
        return int((phat >= lam).sum())

    def upper(lam: float) -> float:
        n = n_of(lam)
        risk = float((~correct[phat >= lam]).sum()) / n
        if risk * n >= n:
            return 1.0
        return brentq(lambda r: binom.cdf(risk * n, n, r) - delta, 0, 0.9999)

    lambdas = [lam for lam in np.linspace(0, 1, 5000) if n_of(lam) >= 30]
    chosen = np.inf
    for lam in reversed(lambdas):
        if upper(lam) > alpha:
            break
        chosen = lam
    return chosen


def synthetic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated confidences: each verdict is right with the probability it gives."""
    phat = rng.uniform(0.5, 1.0, n)
    return phat, rng.random(n) < phat


def test_clopper_pearson_is_the_originals_root() -> None:
    for n, errors, delta in [(30, 3, 0.1), (200, 41, 0.05), (1000, 0, 0.1), (57, 56, 0.2)]:
        root = brentq(lambda r: binom.cdf(errors, n, r) - delta, 0, 0.9999)
        assert clopper_pearson_upper(errors, n, delta) == pytest.approx(root, abs=1e-9)


@pytest.mark.parametrize("seed,target,delta", [(0, 0.85, 0.1), (1, 0.9, 0.05), (2, 0.8, 0.2),
                                               (3, 0.95, 0.1), (4, 0.99, 0.1)])
def test_threshold_equals_the_restatement(seed: int, target: float, delta: float) -> None:
    phat, correct = synthetic(np.random.default_rng(seed), 400)
    got = certified_threshold(phat, correct, target=target, delta=delta, probability=True)
    want = restated(phat, correct, 1 - target, delta)
    assert got["threshold"] == want
    assert got["certified"] == np.isfinite(want)
    if got["certified"]:
        kept = phat >= want
        assert got["kept"] == kept.sum()
        assert got["risk_bound"] <= 1 - target


def _records(phat: np.ndarray, correct: np.ndarray) -> list[dict]:
    """Judgment records with the verdict probability as their indicator."""
    out = []
    for i, (p, ok) in enumerate(zip(phat, correct, strict=True)):
        verdict = "A" if ok else "B"
        out.append({"id": i, "label": "A", "judgment": {
            "judge": "j", "template": "t", "mode": "score", "verdict": verdict,
            "confidence": float(p), "consistent": True, "error": None,
            "orders": [{"probs": {verdict: float(p), "B" if ok else "A": 1 - float(p),
                                  "tie": 0.0}}],
            "indicators": {"verdict_prob": float(p)}}})
    return out


def test_the_target_holds_on_unseen_halves() -> None:
    """Over random calibration/test splits, the certified threshold misses the target on the
    test half in at most about delta of them; the empirical one in about half."""
    rng = np.random.default_rng(5)
    phat, correct = synthetic(rng, 800)
    rows = _records(phat, correct)
    target, delta, splits = 0.85, 0.1, 60
    missed = {"empirical": 0, "certified": 0}
    for _ in range(splits):
        order = rng.permutation(len(rows))
        fit_rows, test_rows = [rows[i] for i in order[:400]], [rows[i] for i in order[400:]]
        data, test = labelled_from(fit_rows), labelled_from(test_rows)
        for rule, d in (("empirical", None), ("certified", delta)):
            fitted = calibrate(data, target_accuracy=target, delta=d, indicator="verdict_prob")
            kept = ~escalate_mask(test, test.values("verdict_prob"), fitted["threshold"],
                                  fitted["escalate_inconsistent"])
            missed[rule] += bool(kept.any() and test.correct[kept].mean() < target)
    assert missed["certified"] / splits <= delta + 0.1  # the test half's sampling noise
    assert missed["empirical"] / splits >= 0.25
    assert missed["certified"] < missed["empirical"]


def test_cli_writes_the_guarantee_and_refuses_a_budget(tmp_path, monkeypatch, capsys) -> None:
    phat, correct = synthetic(np.random.default_rng(6), 300)
    judged = write_jsonl(tmp_path / "judged.jsonl", _records(phat, correct))
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(judged),
                             "--target-accuracy", "0.8", "--delta", "0.1", "--json")
    assert code == 0, err
    fitted = json.loads(out)
    guarantee = fitted["guarantee"]
    assert guarantee["method"] == "trust-or-escalate" and guarantee["delta"] == 0.1
    assert guarantee["certified"] and guarantee["guaranteed_agreement"] >= 0.8
    assert fitted["threshold"] == guarantee["threshold"]
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(judged),
                             "--target-accuracy", "0.8")
    assert code == 0 and "no guarantee" in out, out
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(judged),
                           "--budget", "0.3", "--delta", "0.1")
    assert code == 2 and "--delta" in err


def test_the_cascade_says_what_its_local_share_is_worth() -> None:
    from types import SimpleNamespace

    from judgecli.roles.cascade import Cascade, CascadeStats

    stats = CascadeStats(items=10, escalated=4)
    certified = {"guarantee": {"certified": True, "target": 0.85, "delta": 0.1,
                               "expected_coverage": 0.55}}
    line = Cascade.promise(SimpleNamespace(stats=stats, calibration=certified))
    assert line == ("cascade: local judge decided 6 of 10, guaranteed to agree with the labels "
                    "at least 0.850 with probability 0.90 (Trust or Escalate; expected share "
                    "55.0%)")
    line = Cascade.promise(SimpleNamespace(stats=stats, calibration={"guarantee": None}))
    assert "empirical" in line and "--delta" in line


def test_a_side_by_side_win_rate_interval_names_its_method(tmp_path, monkeypatch,
                                                           capsys) -> None:
    """Issue 21 item 4 (in part): the compact tables' "95% CI" says what it is."""
    rows = [{"id": i, "answer_a": "x", "answer_b": "y",
             "judgment": {"verdict": "AB"[i % 2], "error": None}} for i in range(20)]
    first = write_jsonl(tmp_path / "a.jsonl", rows)
    second = write_jsonl(tmp_path / "b.jsonl", rows[::-1])
    code, out, err = run_cli(monkeypatch, capsys, "report", str(first), str(second))
    assert code == 0, err
    assert "95% CI: percentile bootstrap over the items of the judge's verdicts" in \
        " ".join(out.split())
