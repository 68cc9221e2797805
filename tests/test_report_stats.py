"""Every figure of `judgecli report` against an independent computation, and edge cases."""

from __future__ import annotations

import math
import random
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve
from test_report_helpers import (
    auroc,
    autoj_pairwise,
    ece_loop,
    fastchat_agreement,
    judgelm_bias,
    kappa,
    pandalm_metrics,
    record,
    report_rows,
    single,
)

from judgecli.report import KEYS
from judgecli.report.winrate import bootstrap_ci

V = ["A", "B", "tie"]


def _dataset(n: int = 400, seed: int = 1, fail: float = 0.05) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = rng.choice(V)
        ab = label if rng.random() < 0.6 else rng.choice(V)
        ba = ab if rng.random() < 0.7 else rng.choice(V)
        failed = rng.random() < fail
        rows.append(record(i, None if failed else (ab if ab == ba else "tie"), label=label,
                           ab=ab, ba=ba, error="AB: unparseable" if failed else None,
                           order_errors=(failed, False),
                           confidence=None if failed else round(rng.random(), 3),
                           a="x" * rng.randint(1, 50), b="y" * rng.randint(1, 50),
                           category=rng.choice(["math", "code"])))
    return rows


_report = partial(report_rows, name="j.jsonl")


def _as_tie(rows: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Gold, combined verdict, AB, BA with every failure read as a tie (JudgeLM, PandaLM)."""
    gold = [r["label"] for r in rows]
    verdict = [r["judgment"]["verdict"] or "tie" for r in rows]
    ab = [(o["verdict"] or "tie") for r in rows for o in r["judgment"]["orders"]
          if o["order"] == "AB"]
    ba = [(o["verdict"] or "tie") for r in rows for o in r["judgment"]["orders"]
          if o["order"] == "BA"]
    return gold, verdict, ab, ba


def test_label_figures_match_pandalm_and_judgelm_with_errors_as_ties(tmp_path: Path) -> None:
    rows = _dataset()
    s = _report(tmp_path, rows, errors="tie")
    gold, verdict, ab, ba = _as_tie(rows)
    code = {"tie": 0, "A": 1, "B": 2}  # PandaLM's codes
    expected = pandalm_metrics([code[g] for g in gold], [code[v] for v in verdict])
    for key in ("precision", "recall", "f1"):
        assert s[key] == pytest.approx(expected[key])
    assert s["agreement"] == pytest.approx(expected["accuracy"])
    assert s["kappa"] == pytest.approx(kappa(gold, verdict))
    counts = s["confusion"]["counts"]
    for i, g in enumerate(V):
        for j, p in enumerate(V):
            pairs = zip(gold, verdict, strict=True)
            assert counts[i][j] == sum(x == g and y == p for x, y in pairs)
        assert counts[i][3] == 0  # failures are ties here
    human = [{"A": "model_a", "B": "model_b"}.get(g, "tie") for g in gold]
    judge = [{"A": "model_a", "B": "model_b"}.get(v, "tie") for v in verdict]
    assert s["agreement_without_ties"] == pytest.approx(
        fastchat_agreement(judge, human, ban=["tie"]))
    assert s["agreement"] == pytest.approx(fastchat_agreement(judge, human, ban=[]))
    bias = judgelm_bias(ab, ba)
    for key, value in bias.items():
        assert s[key] == pytest.approx(value), key
    autoj = autoj_pairwise(gold, ab, ba)
    assert s["agreement_by_order"] == pytest.approx({"AB": autoj["AB"], "BA": autoj["BA"]})
    assert s["agreement_both_orders"] == pytest.approx(autoj["both"])
    assert s["consistency"] == pytest.approx(autoj["consistency"])


def test_errors_wrong_and_drop(tmp_path: Path) -> None:
    rows = _dataset(seed=2, fail=0.2)
    failed = [r["judgment"]["error"] is not None for r in rows]
    gold = [r["label"] for r in rows]
    verdict = [r["judgment"]["verdict"] for r in rows]
    wrong = _report(tmp_path, rows)
    assert wrong["errors"] == "wrong"
    assert wrong["n_failed"] == sum(failed)
    assert wrong["error_rate"] == pytest.approx(sum(failed) / len(rows))
    assert wrong["agreement"] == pytest.approx(
        sum(g == v for g, v in zip(gold, verdict, strict=True)) / len(rows))
    assert sum(row[3] for row in wrong["confusion"]["counts"]) == sum(failed)
    # Recall of class c = hits / items labelled c, failures included; precision ignores them.
    present = [c for c in V if c in gold or c in verdict]
    recalls = [sum(g == v == c for g, v in zip(gold, verdict, strict=True)) / gold.count(c)
               for c in present]
    assert wrong["recall"] == pytest.approx(sum(recalls) / len(recalls))
    # A failed order is never consistent and favours no position.
    same = [not f and r["judgment"]["orders"][0]["verdict"] ==
            r["judgment"]["orders"][1]["verdict"] for r, f in zip(rows, failed, strict=True)]
    assert wrong["consistency"] == pytest.approx(sum(same) / len(rows))
    kept = [r for r, f in zip(rows, failed, strict=True) if not f]
    drop = _report(tmp_path, rows, errors="drop")
    alone = _report(tmp_path, kept, errors="drop")
    for key in ("agreement", "f1", "kappa", "consistency", "position_bias", "win_rate",
                "agreement_both_orders"):
        assert drop[key] == pytest.approx(alone[key]), key
    assert drop["n"] == len(rows) and drop["error_rate"] == wrong["error_rate"]
    # Without labels a failure is left out of the win rate unless it counts as a tie.
    assert wrong["wins"] + wrong["ties"] + wrong["losses"] == len(kept)
    tie = _report(tmp_path, rows, errors="tie")
    assert tie["ties"] == wrong["ties"] + sum(failed)


def test_win_rate_ci_sign_test_and_length_bias(tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = []
    for i in range(300):
        v = rng.choices(V, weights=[5, 3, 2])[0]
        rows.append(record(i, v, ba=None, a="a" * rng.randint(1, 30),
                           b="b" * rng.randint(1, 30)))
    s = _report(tmp_path, rows, seed=7)
    values = np.array([{"A": 1.0, "tie": 0.5, "B": 0.0}[r["judgment"]["verdict"]]
                       for r in rows])
    wins, losses = int((values == 1).sum()), int((values == 0).sum())
    assert (s["wins"], s["ties"], s["losses"]) == (wins, int((values == 0.5).sum()), losses)
    assert s["win_rate"] == pytest.approx(values.mean())
    assert s["tie_rate"] == pytest.approx((values == 0.5).mean())
    # Percentile bootstrap resampling the items themselves (scipy), same level.
    ref = stats.bootstrap((values,), np.mean, n_resamples=4000, method="percentile",
                          random_state=np.random.default_rng(0)).confidence_interval
    assert s["win_rate_ci"][0] == pytest.approx(ref.low, abs=0.01)
    assert s["win_rate_ci"][1] == pytest.approx(ref.high, abs=0.01)
    assert s["win_rate_ci"][0] < s["win_rate"] < s["win_rate_ci"][1]
    # Exact two-sided binomial test, written out.
    n = wins + losses
    k = min(wins, losses)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
    assert s["sign_test_p"] == pytest.approx(p)
    decided = [(r["judgment"]["verdict"], len(r["answer_a"]), len(r["answer_b"])) for r in rows
               if r["judgment"]["verdict"] != "tie" and len(r["answer_a"]) != len(r["answer_b"])]
    assert s["n_length_decided"] == len(decided)
    assert s["longer_wins"] == pytest.approx(
        sum((v == "A") == (la > lb) for v, la, lb in decided) / len(decided))
    # The seed makes the interval reproducible; another seed moves it a little.
    assert _report(tmp_path, rows, seed=7)["win_rate_ci"] == s["win_rate_ci"]


def test_bootstrap_by_counts_matches_resampling_items() -> None:
    values = np.array([1.0] * 60 + [0.5] * 25 + [0.0] * 40)
    rng = np.random.default_rng(1)
    draws = values[rng.integers(0, len(values), size=(20000, len(values)))].mean(axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    ours = bootstrap_ci(60, 25, 40, seed=3, resamples=20000)
    assert ours == pytest.approx([low, high], abs=0.006)


def test_reliability(tmp_path: Path) -> None:
    rows = _dataset(n=500, seed=4, fail=0.0)
    s = _report(tmp_path, rows)
    correct = [r["judgment"]["verdict"] == r["label"] for r in rows]
    conf = [r["judgment"]["confidence"] for r in rows]
    assert s["n_confidence"] == len(rows)
    assert s["auroc"] == pytest.approx(auroc(correct, conf))
    assert s["ece"] == pytest.approx(ece_loop(correct, conf))
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    filled = [b for b in s["calibration_bins"] if b["n"]]
    assert [b["accuracy"] for b in filled] == pytest.approx(list(prob_true))
    assert [b["confidence"] for b in filled] == pytest.approx(list(prob_pred))
    ranked = [ok for _, _, ok in sorted(
        ((-c, i, ok) for i, (c, ok) in enumerate(zip(conf, correct, strict=True))))]
    for point in s["accuracy_at_coverage"]:
        k = math.ceil(round(point["coverage"] * len(rows), 9))
        assert point["n"] == k
        assert point["accuracy"] == pytest.approx(sum(ranked[:k]) / k)
    assert s["accuracy_at_coverage"][-1]["accuracy"] == pytest.approx(s["agreement"])


def test_numeric_labels(tmp_path: Path) -> None:
    rng = random.Random(5)
    gold = [rng.randint(1, 10) for _ in range(80)]
    score = [min(10, max(1, g + rng.randint(-3, 3))) for g in gold]
    rows = [single(i, float(x), label=g) for i, (x, g) in enumerate(zip(score, gold, strict=True))]
    rows.append(single(80, None, label=5, error="unparseable"))
    s = _report(tmp_path, rows)
    assert s["kind"] == "single" and s["n"] == 81 and s["n_failed"] == 1
    x, y = np.array(score, float), np.array(gold, float)
    assert s["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    r = s["pearson"]
    t = r * math.sqrt((len(x) - 2) / (1 - r * r))
    assert s["pearson_p"] == pytest.approx(2 * stats.t.sf(abs(t), len(x) - 2))
    assert s["spearman"] == pytest.approx(
        np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            concordant += dx * dy > 0
            discordant += dx * dy < 0
            ties_x += dx == 0 and dy != 0
            ties_y += dy == 0 and dx != 0
    tau_b = (concordant - discordant) / math.sqrt(
        (concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    assert s["kendall"] == pytest.approx(tau_b)
    assert s["mae"] == pytest.approx(np.abs(x - y).mean())
    assert s["mean_score"] == pytest.approx(x.mean())
    assert s["agreement"] is None and s["win_rate"] is None


def _keys_and_fractions(s: dict[str, Any]) -> None:
    assert set(KEYS) <= set(s)
    for key in ("error_rate", "agreement", "precision", "recall", "f1", "consistency",
                "agreement_both_orders", "position_bias", "win_rate", "tie_rate",
                "longer_wins", "auroc", "ece", "prefer_first", "prefer_second"):
        assert s[key] is None or 0.0 <= s[key] <= 1.0, key


def test_empty_input(tmp_path: Path) -> None:
    s = _report(tmp_path, [])
    _keys_and_fractions(s)
    assert s["n"] == 0 and s["kind"] is None
    assert all(s[k] is None for k in ("error_rate", "agreement", "win_rate", "win_rate_ci",
                                      "consistency", "auroc"))


def test_single_item(tmp_path: Path) -> None:
    s = _report(tmp_path, [record(1, "A", label="A", confidence=0.9)])
    _keys_and_fractions(s)
    assert s["agreement"] == 1.0 and s["f1"] == 1.0
    assert s["kappa"] is None  # undefined with one class
    assert s["auroc"] is None  # every item is right
    assert s["win_rate"] == 1.0 and s["win_rate_ci"] == [1.0, 1.0]
    assert s["sign_test_p"] == 1.0 and s["consistency"] == 1.0
    assert s["ece"] == pytest.approx(0.1)


def test_one_class_only(tmp_path: Path) -> None:
    rows = [record(i, "B", label="B", confidence=0.5 + i / 100) for i in range(20)]
    s = _report(tmp_path, rows)
    _keys_and_fractions(s)
    assert s["agreement"] == 1.0 and s["precision"] == 1.0 and s["f1"] == 1.0
    assert s["kappa"] is None and s["auroc"] is None
    assert s["win_rate"] == 0.0 and s["losses"] == 20
    assert s["sign_test_p"] == pytest.approx(2 * 0.5 ** 20)


def test_all_ties(tmp_path: Path) -> None:
    rows = [record(i, "tie", label=["A", "B"][i % 2]) for i in range(10)]
    s = _report(tmp_path, rows)
    _keys_and_fractions(s)
    assert s["win_rate"] == 0.5 and s["win_rate_ci"] == [0.5, 0.5] and s["tie_rate"] == 1.0
    assert s["sign_test_p"] is None and s["longer_wins"] is None
    assert s["agreement"] == 0.0 and s["agreement_without_ties"] is None
    assert s["consistency"] == 1.0 and s["position_bias"] == 0.0


def test_all_errors(tmp_path: Path) -> None:
    rows = [record(i, None, label="A", error="AB: timeout", order_errors=(True, True))
            for i in range(5)]
    s = _report(tmp_path, rows)
    _keys_and_fractions(s)
    assert s["error_rate"] == 1.0 and s["agreement"] == 0.0 and s["consistency"] == 0.0
    assert s["win_rate"] is None and s["wins"] == 0
    assert s["verdicts_by_order"]["AB"]["failed"] == 5
    tie = _report(tmp_path, rows, errors="tie")
    assert tie["agreement"] == 0.0 and tie["tie_rate"] == 1.0 and tie["consistency"] == 1.0
    drop = _report(tmp_path, rows, errors="drop")
    assert drop["agreement"] is None and drop["win_rate"] is None and drop["n"] == 5


def test_no_labels_and_one_order(tmp_path: Path) -> None:
    rows = [record(i, v, ba=None) for i, v in enumerate("A A B tie".split())]
    s = _report(tmp_path, rows)
    _keys_and_fractions(s)
    assert s["n_labeled"] == 0 and s["agreement"] is None and s["confusion"] is None
    assert s["consistency"] is None and s["n_both_orders"] == 0
    assert s["verdicts_by_order"] == {"AB": {"A": 2, "B": 1, "tie": 1, "failed": 0}}
    assert s["win_rate"] == pytest.approx(2.5 / 4)


def test_groups_equal_reports_of_their_items(tmp_path: Path) -> None:
    rows = _dataset(n=200, seed=6)
    s = _report(tmp_path, rows, by=("category",))
    assert [g["group"] for g in s["groups"]] == list(dict.fromkeys(r["category"]
                                                                  for r in rows))
    for group in s["groups"]:
        alone = _report(tmp_path, [r for r in rows if r["category"] == group["group"]])
        for key in ("n", "agreement", "f1", "kappa", "consistency", "win_rate", "win_rate_ci",
                    "ece", "position_bias"):
            assert group[key] == pytest.approx(alone[key]), key
    assert s["n"] == sum(g["n"] for g in s["groups"])
