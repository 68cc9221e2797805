"""`judgecli report` on binary (pass / fail) judgments of one answer: the label figures against
scikit-learn and hand counts, --labels, --errors, bad input named, the command line."""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_jsonl
from report_records import binary
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from test_report_helpers import auroc, kappa, record, report_rows, single
from typer.testing import CliRunner

from judgecli.cli.commands import app
from judgecli.errors import InputError, JudgecliError
from judgecli.report import ReportOptions, build_report, read_judgments

# Figures that need two answers (or two orders): a binary report leaves them null.
PAIR_ONLY = ("agreement_without_ties", "agreement_by_order", "agreement_both_orders",
             "n_both_orders", "consistency", "prefer_first", "prefer_second",
             "position_bias", "total_bias", "verdicts_by_order", "wins", "ties", "losses",
             "win_rate", "win_rate_ci", "sign_test_p", "tie_rate", "longer_wins",
             "n_length_decided", "mean_score", "mae", "pearson", "spearman")


def _dataset(n: int = 300, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "fail" if rng.random() < 0.3 else "pass"
        verdict = label if rng.random() < 0.75 else rng.choice(["pass", "fail"])
        failed = rng.random() < 0.06
        rows.append(binary(i, None if failed else verdict, label=label,
                           confidence=round(rng.uniform(0.5, 1.0), 3),
                           category=rng.choice(["harm", "privacy"])))
    return rows


_report = partial(report_rows, name="b.jsonl")


def _verdict(row: dict[str, Any]) -> str:
    return row["judgment"]["verdict"] or "error"


def test_figures_match_sklearn_and_hand_counts(tmp_path: Path) -> None:
    rows = _dataset()
    s = _report(tmp_path, rows)
    gold = [r["label"] for r in rows]
    pred = [_verdict(r) for r in rows]
    assert s["kind"] == "binary" and s["n"] == 300 and s["n_labeled"] == 300
    assert s["n_failed"] == pred.count("error") > 0
    assert s["agreement"] == pytest.approx(accuracy_score(gold, pred))
    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, pred, labels=["pass", "fail"], average="macro", zero_division=0)
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((precision, recall, f1))
    # F1 of "fail", counted by hand: a failed judgment did not flag its item.
    tp = sum(g == p == "fail" for g, p in zip(gold, pred, strict=True))
    fp = sum(g != "fail" and p == "fail" for g, p in zip(gold, pred, strict=True))
    fn = sum(g == "fail" and p != "fail" for g, p in zip(gold, pred, strict=True))
    assert s["f1_fail"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert s["kappa"] == pytest.approx(kappa(gold, pred))
    assert s["confusion"]["gold"] == ["pass", "fail"]
    assert s["confusion"]["judge"] == ["pass", "fail", "error"]
    assert s["confusion"]["counts"] == [
        [sum(g == a and p == b for g, p in zip(gold, pred, strict=True))
         for b in ("pass", "fail", "error")] for a in ("pass", "fail")]
    assert s["pass_rate"] == pytest.approx(pred.count("pass") / (300 - pred.count("error")))
    judged = [(p == g, r["judgment"]["confidence"])
              for r, g, p in zip(rows, gold, pred, strict=True) if p != "error"]
    assert s["n_confidence"] == len(judged)
    assert s["auroc"] == pytest.approx(auroc([c for c, _ in judged], [x for _, x in judged]))
    for key in PAIR_ONLY:
        assert s[key] is None, key


def test_errors_drop_and_tie(tmp_path: Path) -> None:
    rows = _dataset(seed=4)
    s = _report(tmp_path, rows, errors="drop")
    kept = [r for r in rows if r["judgment"]["verdict"] is not None]
    assert s["agreement"] == pytest.approx(
        accuracy_score([r["label"] for r in kept], [_verdict(r) for r in kept]))
    assert s["n_failed"] == len(rows) - len(kept)
    with pytest.raises(JudgecliError, match="no tie"):
        _report(tmp_path, rows, errors="tie")


def test_f1_fail_undefined_without_any_fail(tmp_path: Path) -> None:
    s = _report(tmp_path, [binary(i, "pass", label="pass") for i in range(4)])
    assert s["agreement"] == 1.0 and s["f1_fail"] is None and s["pass_rate"] == 1.0
    unlabelled = _report(tmp_path, [binary(i, "fail") for i in range(3)])
    assert unlabelled["agreement"] is None and unlabelled["f1_fail"] is None
    assert unlabelled["pass_rate"] == 0.0 and unlabelled["n_labeled"] == 0


def test_labels_file(tmp_path: Path) -> None:
    rows = [binary(i, v) for i, v in enumerate(["pass", "fail", "fail", "pass"])]
    judged = str(write_jsonl(tmp_path / "b.jsonl", rows))
    gold = str(write_jsonl(tmp_path / "gold.jsonl", [
        {"id": 0, "label": "pass"}, {"id": 1, "label": "pass"}, {"id": 2, "label": "fail"},
        {"id": 9, "label": "fail"}]))
    (s,) = build_report([judged], ReportOptions(labels=gold))
    assert s["n_labeled"] == 3 and s["agreement"] == pytest.approx(2 / 3)
    assert s["f1_fail"] == pytest.approx(2 / 3)  # tp 1, fp 1, fn 0
    wrong = str(write_jsonl(tmp_path / "gold2.jsonl", [{"id": 0, "label": "pass"},
                                                      {"id": 1, "label": "A"}]))
    with pytest.raises(InputError) as caught:
        build_report([judged], ReportOptions(labels=wrong))
    assert caught.value.file.endswith("gold2.jsonl") and caught.value.line == 2
    assert caught.value.field == "label" and '"pass" or "fail"' in str(caught.value)


def test_all_failed_file_takes_its_kind_from_the_labels(tmp_path: Path) -> None:
    rows = [binary(i, None) for i in range(3)]
    judged = str(write_jsonl(tmp_path / "b.jsonl", rows))
    gold = str(write_jsonl(tmp_path / "gold.jsonl", [{"id": i, "label": "fail"}
                                                    for i in range(3)]))
    (s,) = build_report([judged], ReportOptions(labels=gold))
    assert s["kind"] == "binary" and s["agreement"] == 0.0 and s["f1_fail"] == 0.0


GOOD = json.dumps(binary(1, "pass", label="pass"))


def _bad_order() -> dict[str, Any]:
    row = binary(2, "fail")
    row["judgment"]["orders"][0]["verdict"] = "A"
    return row


@pytest.mark.parametrize(("line", "field", "words"), [
    (json.dumps(record(2, "A")), "judgment.verdict",
     "an A/B/tie verdict in a file of pass/fail verdicts (as on line 1)"),
    (json.dumps(binary(2, "maybe")), "judgment.verdict", 'expected "pass", "fail" or null'),
    (json.dumps(binary(2, "fail", label="A")), "label", "an A/B/tie label in a file of"),
    (json.dumps(binary(2, "fail", label=1)), "label", 'expected "pass" or "fail", got 1'),
    (json.dumps(_bad_order()), "judgment.orders[0].verdict", "an A/B/tie verdict"),
    (json.dumps(single(2, 7.0)), "judgment", "a single judgment in a file of binary"),
])
def test_bad_lines_are_named(tmp_path: Path, line: str, field: str, words: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        build_report([str(path)])
    assert caught.value.line == 2 and caught.value.field == field
    assert str(caught.value).startswith(f"{path}:2: field '{field}'")
    assert words in str(caught.value)


def test_a_pair_file_then_pass_fail_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", [record(1, "A"), binary(2, "pass")])
    with pytest.raises(InputError, match="a pass/fail verdict in a file of A/B/tie") as caught:
        build_report([str(path)])
    assert caught.value.line == 2 and caught.value.field == "judgment.verdict"


def test_columns_stay_compact(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", [binary(i, "pass", label="fail", confidence=0.7)
                                              for i in range(40)])
    j = read_judgments(str(path))

    def held(column: np.ndarray) -> int:  # a broadcast constant (stride 0) holds one value
        return column.itemsize if column.strides == (0,) else column.nbytes

    per_item = sum(held(getattr(j, n)) for n in (
        "ids", "lines", "failed", "verdict", "order_ab", "order_ba", "label", "score",
        "label_value", "confidence", "longer", "group", "delimited")) / len(j)
    # ids 8, lines 4, confidence 8, seven one-byte codes; grades, groups: constants
    assert per_item <= 28 and j.views == [] and j.panel_agreement is None
    assert j.score.strides == j.label_value.strides == j.group.strides == (0,)


def test_command_line(tmp_path: Path) -> None:
    path = str(write_jsonl(tmp_path / "b.jsonl", _dataset(n=40)))
    runner = CliRunner()
    result = runner.invoke(app, ["report", path, "--json", "--by", "category"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "binary" and out["win_rate"] is None
    assert sorted(g["group"] for g in out["groups"]) == ["harm", "privacy"]
    assert sum(g["n"] for g in out["groups"]) == 40
    assert all(g["f1_fail"] is not None and g["pass_rate"] is not None for g in out["groups"])
    assert [(r["source"], r["group"]) for r in out["judges"]] == [
        ("judgment", None), *(("judgment", g["group"]) for g in out["groups"])]
    table = runner.invoke(app, ["report", path]).output
    assert "pass rate" in table and "F1 of fail" in table and "win rate" not in table
    gate = runner.invoke(app, ["report", path, "--fail-under", "f1_fail=1.01"])
    assert gate.exit_code == 1
