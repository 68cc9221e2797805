"""`judgecli report` on reviewed judgments (``judgment.review``): what the review changed,
fixed and broke, counted by hand; the reviewer's row in the judge x template table; bad input."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import write_jsonl
from report_records import binary, binary_judgment, grade_judgment, pair_judgment, reviewed
from sklearn.metrics import accuracy_score
from test_report_helpers import record, report_rows, single
from typer.testing import CliRunner

from judgecli.cli.commands import app
from judgecli.errors import InputError
from judgecli.report import build_report

# (label, first verdict, review verdict): None for a failed first judgment (not reviewed)
# or a failed review ("failed").
ITEMS = [("A", "A", "A"), ("A", "B", "A"), ("B", "B", "A"), ("tie", "A", "tie"),
         ("B", "A", "failed"), ("A", None, None), ("B", "B", "B"), ("tie", "tie", "B"),
         (None, "A", "B")]


def _rows(items: list[tuple[Any, Any, Any]] = ITEMS) -> list[dict[str, Any]]:
    rows = []
    for i, (label, first, after) in enumerate(items):
        row = record(i, first, label=label, error=None if first else "AB: unparseable",
                     category="odd" if i % 2 else "even")
        review = None
        if first is not None:
            review = pair_judgment(None if after == "failed" else after, judge="big",
                                   template="review-pair")
        rows.append(reviewed(row, review))
    return rows


_report = partial(report_rows, name="r.jsonl")


def test_review_figures_counted_by_hand(tmp_path: Path) -> None:
    s = _report(tmp_path, _rows())
    ok = [(g, f, a) for g, f, a in ITEMS if f is not None and a != "failed"]
    assert s["n_reviewed"] == len(ok) == 7
    assert s["review_changed"] == pytest.approx(sum(f != a for _, f, a in ok) / 7)
    labelled = [(g, f, a) for g, f, a in ok if g is not None]
    assert s["agreement_before_review"] == pytest.approx(
        sum(g == f for g, f, _ in labelled) / len(labelled))
    assert s["agreement_after_review"] == pytest.approx(
        sum(g == a for g, _, a in labelled) / len(labelled))
    assert s["review_fixed"] == sum(g != f and g == a for g, f, a in labelled) == 2
    assert s["review_broke"] == sum(g == f and g != a for g, f, a in labelled) == 2


def test_the_headline_is_the_final_verdict(tmp_path: Path) -> None:
    """Agreement, W/T/L and the rest are the reviewed verdicts' (the review's where it
    succeeded, else the first judge's); the first judge's stay in the judges table."""
    items = [*ITEMS, ("A", "B", "A"), ("A", "tie", "A"), ("B", "B", "failed")]
    s = _report(tmp_path, _rows(items))
    final = [a if a not in (None, "failed") else f for _, f, a in items]
    labelled = [(g, v) for (g, _, _), v in zip(items, final) if g is not None]
    # --errors wrong: a failed judgment (None) is wrong
    assert s["agreement"] == pytest.approx(
        accuracy_score([g for g, _ in labelled], [v or "error" for _, v in labelled]))
    assert (s["wins"], s["ties"], s["losses"]) == (
        final.count("A"), final.count("tie"), final.count("B"))
    first = [(g, f) for g, f, _ in items if g is not None]
    before = accuracy_score([g for g, _ in first], [f or "error" for _, f in first])
    assert s["judges"][0]["agreement"] == pytest.approx(before) != s["agreement"]


def test_reviewer_row(tmp_path: Path) -> None:
    s = _report(tmp_path, _rows())
    first, review = s["judges"]
    assert (first["judge"], first["source"], first["n"]) == ("test", "judgment", 9)
    assert (review["judge"], review["template"]) == ("review by big", "review-pair")
    assert review["source"] == "judgment.review"
    reviewed_items = [(g, a) for g, f, a in ITEMS if f is not None]
    assert review["n"] == len(reviewed_items) and review["n_failed"] == 1
    gold = [g for g, _ in reviewed_items if g is not None]
    pred = [a if a != "failed" else "error" for g, a in reviewed_items if g is not None]
    assert review["agreement"] == pytest.approx(accuracy_score(gold, pred))


def test_errors_policy_for_the_first_verdict(tmp_path: Path) -> None:
    items = [("A", "A", "B"), ("B", "A", "B")]
    rows = _rows(items)
    # A first judgment that failed yet was reviewed (another writer may do so).
    failed = record(2, None, label="B", error="AB: unparseable")
    rows.append(reviewed(failed, pair_judgment("B", judge="big")))
    wrong = _report(tmp_path, rows)
    assert wrong["agreement_before_review"] == pytest.approx(1 / 3)
    assert wrong["review_fixed"] == 2 and wrong["review_broke"] == 1
    dropped = _report(tmp_path, rows, errors="drop")
    assert dropped["agreement_before_review"] == pytest.approx(1 / 2)
    assert dropped["review_fixed"] == 1 and dropped["n_reviewed"] == 3


def test_binary_and_grade_reviews(tmp_path: Path) -> None:
    rows = [reviewed(binary(i, first, label=label), binary_judgment(after, judge="big"))
            for i, (label, first, after) in enumerate(
                [("fail", "pass", "fail"), ("pass", "pass", "pass"), ("pass", "fail", None)])]
    s = _report(tmp_path, rows)
    assert s["kind"] == "binary" and s["n_reviewed"] == 2 and s["review_changed"] == 0.5
    assert (s["review_fixed"], s["review_broke"]) == (1, 0)
    assert s["judges"][1]["f1_fail"] == 1.0
    grades = [reviewed(single(i, score, label=label), grade_judgment(after, judge="big"))
              for i, (label, score, after) in enumerate([(5, 4.0, 5.0), (3, 3.0, 3.0)])]
    g = _report(tmp_path, grades)
    assert g["kind"] == "single" and g["n_reviewed"] == 2 and g["review_changed"] == 0.5
    assert g["agreement_before_review"] is None and g["review_fixed"] is None
    assert g["judges"][1]["mae"] == 0.0 and g["judges"][0]["mae"] == 0.5


def test_files_without_reviews_keep_null_keys(tmp_path: Path) -> None:
    s = _report(tmp_path, [record(i, "A", label="A") for i in range(3)])
    for key in ("n_reviewed", "review_changed", "agreement_before_review",
                "agreement_after_review", "review_fixed", "review_broke"):
        assert key in s and s[key] is None, key
    unlabelled = _report(tmp_path, _rows([(None, "A", "B")]))
    assert unlabelled["n_reviewed"] == 1 and unlabelled["review_changed"] == 1.0
    assert unlabelled["agreement_after_review"] is None and unlabelled["review_fixed"] is None


def _changed(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["review"]["changed"] = "yes"
    return row


def _verdict(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["review"]["verdict"] = "C"
    return row


def _not_object(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["review"] = "A"
    return row


def _confidence(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["review"]["confidence"] = 2
    return row


@pytest.mark.parametrize(("change", "field", "words"), [
    (_changed, "judgment.review.changed", "expected true, false or null, got 'yes'"),
    (_verdict, "judgment.review.verdict", 'expected "A", "B", "tie" or null'),
    (_not_object, "judgment.review", "expected an object"),
    (_confidence, "judgment.review.confidence", "expected a probability in [0, 1]"),
])
def test_bad_reviews_are_named(tmp_path: Path, change: Any, field: str, words: str) -> None:
    good, bad = _rows([("A", "A", "B"), ("B", "A", "B")])
    path = write_jsonl(tmp_path / "bad.jsonl", [good, change(bad)])
    with pytest.raises(InputError) as caught:
        build_report([str(path)])
    assert str(caught.value).startswith(f"{path}:2: field '{field}'")
    assert words in str(caught.value)


def test_command_line_by_group(tmp_path: Path) -> None:
    path = str(write_jsonl(tmp_path / "r.jsonl", _rows()))
    runner = CliRunner()
    result = runner.invoke(app, ["report", path, "--json", "--by", "category"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert sum(g["n_reviewed"] for g in out["groups"]) == out["n_reviewed"]
    assert sum(g["review_fixed"] for g in out["groups"]) == out["review_fixed"]
    assert [(r["source"], r["group"]) for r in out["judges"]] == [
        ("judgment", None), ("judgment.review", None),
        *((s, g["group"]) for g in out["groups"] for s in ("judgment", "judgment.review"))]
    table = runner.invoke(app, ["report", path]).output
    assert "review by big" in table and "agreement after review" in table
