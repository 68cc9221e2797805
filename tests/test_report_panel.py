"""`judgecli report` on judge panels (``judgment.panel``): Krippendorff's alpha worked by hand
and from the ``krippendorff`` package called directly, the members' agreement, the judge x
template table, --by, several files, bad input named, the command line."""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from conftest import write_jsonl
from report_records import binary_judgment, grade_judgment, pair_judgment, panel
from sklearn.metrics import accuracy_score
from test_report_helpers import record, report_rows
from typer.testing import CliRunner

from judgecli.cli.commands import app
from judgecli.errors import InputError
from judgecli.report import JUDGE_KEYS, ReportOptions, as_json, build_report

JUDGES = ("small", "medium", "large")
CODE = {"A": 0, "B": 1, "tie": 2, "pass": 0, "fail": 1}


def _pair_panel(i: int, verdicts: list[str | None], **extra: Any) -> dict[str, Any]:
    return panel(i, [pair_judgment(v, judge=j) for v, j in zip(verdicts, JUDGES, strict=False)],
                 **extra)


_report = partial(report_rows, name="panel.jsonl")


def _random_panel(n: int = 150, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = rng.choice(["A", "B", "tie"])
        verdicts = [None if rng.random() < 0.08 else
                    label if rng.random() < skill else rng.choice(["A", "B", "tie"])
                    for skill in (0.5, 0.65, 0.8)]
        rows.append(_pair_panel(i, verdicts, label=label, category=rng.choice(["x", "y"])))
    return rows


def _matrix(rows: list[dict[str, Any]], key: str = "verdict") -> np.ndarray:
    """Krippendorff's reliability data: members x items, nan where a member failed."""
    return np.array([[np.nan if m[key] is None else CODE.get(m[key], m[key])
                      for m in r["judgment"]["panel"]] for r in rows], dtype=float).T


# --- the figures -------------------------------------------------------------------------

def test_alpha_worked_by_hand(tmp_path: Path) -> None:
    rows = [_pair_panel(0, ["A", "A", "A"], label="A"),
            _pair_panel(1, ["A", "B", "A"], label="B"),
            _pair_panel(2, ["B", "B", None], label="B"),
            _pair_panel(3, ["tie", None, None], label="tie")]
    s = _report(tmp_path, rows)
    # Coincidences (Krippendorff 2011): item 0 gives o_AA 3; item 1 o_AA 1, o_AB = o_BA = 1;
    # item 2 o_BB 2; item 3 has one value and no pair. n_A = 5, n_B = 3, n = 8, so
    # alpha = 1 - (n - 1) (o_AB + o_BA) / (2 n_A n_B) = 1 - 7 * 2 / 30 = 8 / 15.
    assert s["panel_alpha"] == pytest.approx(8 / 15)
    assert s["panel_members"] == 3
    assert s["panel_unanimous"] == pytest.approx(2 / 3)  # items 0 and 2 of 0, 1, 2
    assert s["panel_agreement"] == pytest.approx((1 + 1 / 3 + 1) / 3)  # item 3: null
    assert krippendorff.alpha(reliability_data=_matrix(rows),
                              level_of_measurement="nominal") == pytest.approx(8 / 15)


def test_alpha_and_agreement_against_the_package(tmp_path: Path) -> None:
    rows = _random_panel()
    s = _report(tmp_path, rows)
    assert s["panel_alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=_matrix(rows), level_of_measurement="nominal"))
    given = [[m["verdict"] for m in r["judgment"]["panel"] if m["verdict"]] for r in rows]
    voted = [g for g in given if len(g) >= 2]
    assert s["panel_unanimous"] == pytest.approx(
        sum(len(set(g)) == 1 for g in voted) / len(voted))
    per_item = [r["judgment"]["agreement"] for r in rows if r["judgment"]["agreement"] is not None]
    assert s["panel_agreement"] == pytest.approx(sum(per_item) / len(per_item))


@pytest.mark.parametrize("slice_size", [1, 7, 1 << 16])
@pytest.mark.parametrize("kind", ["pair", "binary", "grades"])
def test_alpha_by_slices_equals_the_package(monkeypatch, kind: str, slice_size: int) -> None:
    """The closed forms, counted a slice of items at a time, give krippendorff.alpha's
    figure: 2 to 6 members, missing values, items with fewer than two values."""
    from judgecli.report import panel as panel_module

    monkeypatch.setattr(panel_module, "SLICE", slice_size)
    rng = np.random.default_rng(slice_size)
    for members in (2, 3, 6):
        n = 300
        if kind == "grades":
            truth = rng.integers(1, 11, n)
            values = np.clip(truth + rng.integers(-2, 3, (members, n)), 1, 10).astype(float)
            values[rng.random((members, n)) < 0.15] = np.nan
            columns = [{"score": row} for row in values]
        else:
            codes = (0, 1, 2) if kind == "pair" else (4, 5)
            truth = rng.choice(codes, n)
            values = np.where(rng.random((members, n)) < 0.7, truth,
                              rng.choice(codes, (members, n))).astype(float)
            values[rng.random((members, n)) < 0.15] = np.nan
            columns = [{"verdict": np.where(np.isnan(row), -1, row).astype(np.int8)}
                       for row in values]
        out = panel_module.panel_figures(columns, None, kind == "grades")
        expected = krippendorff.alpha(reliability_data=values, level_of_measurement=(
            "interval" if kind == "grades" else "nominal"))
        assert out["panel_alpha"] == pytest.approx(expected, abs=1e-12)
        pairable = values[:, np.count_nonzero(~np.isnan(values), axis=0) >= 2]
        assert out["panel_unanimous"] == pytest.approx(np.mean(
            np.nanmin(pairable, axis=0) == np.nanmax(pairable, axis=0)))


def test_grade_panel_uses_interval_alpha(tmp_path: Path) -> None:
    scores = [(1, 2), (3, 3), (5, 4)]
    rows = [panel(i, [grade_judgment(a, judge="small"), grade_judgment(b, judge="large")],
                  label=float(a)) for i, (a, b) in enumerate(scores)]
    s = _report(tmp_path, rows)
    # Interval: D_o = (1 + 0 + 1) * 2 / 6; D_e = sum over ordered pairs of the six values
    # (1, 2, 3, 3, 5, 4) of their squared difference / (6 * 5) = 120 / 30 = 4.
    assert s["kind"] == "single" and s["panel_alpha"] == pytest.approx(1 - (4 / 6) / 4)
    assert s["panel_alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=_matrix(rows, "score"), level_of_measurement="interval"))
    assert s["panel_unanimous"] == pytest.approx(1 / 3)
    rows_by_source = {r["source"]: r for r in s["judges"]}
    assert rows_by_source["judgment.panel.0"]["mae"] == 0.0  # the label is member 0's score
    assert rows_by_source["judgment.panel.1"]["mae"] == pytest.approx(2 / 3)
    assert rows_by_source["judgment"]["judge"] == "panel (majority)"


def test_binary_panel(tmp_path: Path) -> None:
    verdicts = [("pass", "pass", "fail"), ("fail", "fail", "fail"), ("pass", None, "pass"),
                ("fail", "pass", "pass")]
    labels = ["pass", "fail", "pass", "fail"]
    rows = [panel(i, [binary_judgment(v, judge=j) for v, j in zip(vs, JUDGES, strict=True)],
                  label=g) for i, (vs, g) in enumerate(zip(verdicts, labels, strict=True))]
    s = _report(tmp_path, rows)
    assert s["kind"] == "binary" and s["panel_alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=_matrix(rows), level_of_measurement="nominal"))
    members = [r for r in s["judges"] if r["source"].startswith("judgment.panel.")]
    assert [r["judge"] for r in members] == list(JUDGES)
    # large said fail, fail, pass, pass: one fail right (item 1), one wrong (item 0), one
    # missed (item 3): F1 of fail = 2 * 1 / (2 * 1 + 1 + 1).
    assert members[2]["f1_fail"] == pytest.approx(0.5) and members[2]["agreement"] == 0.5


def test_member_rows_equal_their_own_files(tmp_path: Path) -> None:
    rows = _random_panel(n=60, seed=8)
    s = _report(tmp_path, rows)
    assert [r["source"] for r in s["judges"]] == [
        "judgment", "judgment.panel.0", "judgment.panel.1", "judgment.panel.2"]
    assert all(set(r) == set(JUDGE_KEYS) for r in s["judges"])
    own = s["judges"][0]
    assert (own["agreement"], own["f1"], own["kappa"]) == (s["agreement"], s["f1"], s["kappa"])
    for k, judge in enumerate(JUDGES):
        alone = [{**r, "judgment": r["judgment"]["panel"][k]} for r in rows]
        mine = _report(tmp_path, alone, name=f"member{k}.jsonl")
        row = s["judges"][k + 1]
        assert (row["judge"], row["template"]) == (judge, "judgelm-pair")
        for key in ("n", "n_labeled", "n_failed", "agreement", "f1", "kappa"):
            assert row[key] == mine[key], (k, key)
        gold = [r["label"] for r in alone]
        pred = [r["judgment"]["verdict"] or "error" for r in alone]
        assert row["agreement"] == pytest.approx(accuracy_score(gold, pred))


def test_by_group(tmp_path: Path) -> None:
    rows = _random_panel(n=80, seed=9)
    s = _report(tmp_path, rows, by=("category",))
    for group in s["groups"]:
        mine = [r for r in rows if r["category"] == group["group"]]
        assert group["panel_alpha"] == pytest.approx(krippendorff.alpha(
            reliability_data=_matrix(mine), level_of_measurement="nominal"))
        assert group["panel_members"] == 3
        rows_here = [r for r in s["judges"] if r["group"] == group["group"]]
        assert len(rows_here) == 4 and rows_here[0]["n"] == len(mine)
        pred = [r["judgment"]["panel"][1]["verdict"] or "error" for r in mine]
        assert rows_here[2]["agreement"] == pytest.approx(
            accuracy_score([r["label"] for r in mine], pred))


def test_files_without_panels_keep_null_keys(tmp_path: Path) -> None:
    s = _report(tmp_path, [record(i, "A", label="B") for i in range(3)])
    for key in ("panel_alpha", "panel_members", "panel_agreement", "panel_unanimous",
                "n_reviewed", "review_changed", "f1_fail", "pass_rate"):
        assert key in s and s[key] is None, key
    assert [(r["judge"], r["source"]) for r in s["judges"]] == [("test", "judgment")]


def test_alpha_undefined_when_no_item_has_two_verdicts(tmp_path: Path) -> None:
    s = _report(tmp_path, [_pair_panel(i, ["A", None, None], label="A") for i in range(3)])
    assert s["panel_alpha"] is None and s["panel_unanimous"] is None
    assert s["panel_agreement"] is None and s["panel_members"] == 3
    same = _report(tmp_path, [_pair_panel(i, ["A", "A", "A"]) for i in range(3)], name="same.jsonl")
    assert same["panel_alpha"] is None and same["panel_unanimous"] == 1.0  # one value only


# --- several files -------------------------------------------------------------------------

def test_several_files_share_one_table(tmp_path: Path) -> None:
    rows = _random_panel(n=30, seed=10)
    panel_file = str(write_jsonl(tmp_path / "panel.jsonl", rows))
    plain_file = str(write_jsonl(tmp_path / "plain.jsonl",
                                 [record(i, "A", label="A") for i in range(10, 40)]))
    summaries = build_report([panel_file, plain_file], ReportOptions(by=("category",)))
    out = as_json(summaries)
    assert all("judges" not in f for f in out["files"])
    table = out["judges"]
    overall = [r for r in table if r["group"] is None]
    assert [(r["file"], r["source"]) for r in overall] == [
        (panel_file, "judgment"), *((panel_file, f"judgment.panel.{k}") for k in range(3)),
        (plain_file, "judgment")]
    assert {r["n"] for r in overall} == {20}  # the ids both files hold
    assert table[:len(overall)] == overall  # overall rows first, then each group's


# --- bad input -------------------------------------------------------------------------------

def _member_count(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["panel"].pop()
    return row


def _member_verdict(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["panel"][1]["verdict"] = "C"
    return row


def _member_kind(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["panel"][0] = grade_judgment(7.0)
    return row


def _member_type(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["panel"][1] = "A"
    return row


def _agreement(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["agreement"] = 1.5
    return row


def _no_panel(row: dict[str, Any]) -> dict[str, Any]:
    del row["judgment"]["panel"]
    return row


def _member_order(row: dict[str, Any]) -> dict[str, Any]:
    row["judgment"]["panel"][2]["orders"][0]["order"] = "XY"
    return row


@pytest.mark.parametrize(("change", "field", "words"), [
    (_member_count, "judgment.panel", "expected a list of 3 members' judgments, as on line 1"),
    (_member_verdict, "judgment.panel.1.verdict", 'expected "A", "B", "tie" or null'),
    (_member_kind, "judgment.panel.0", "a single judgment in a file of pair judgments"),
    (_member_type, "judgment.panel.1", "expected an object"),
    (_agreement, "judgment.agreement", "expected a share in [0, 1] or null, got 1.5"),
    (_no_panel, "judgment.panel", "missing"),
    (_member_order, "judgment.panel.2.orders[0]", "expected an object with \"order\""),
])
def test_bad_panels_are_named(tmp_path: Path, change: Any, field: str, words: str) -> None:
    path = tmp_path / "bad.jsonl"
    good, bad = _pair_panel(1, ["A", "B", "A"]), change(_pair_panel(2, ["A", "B", "A"]))
    write_jsonl(path, [good, bad])
    with pytest.raises(InputError) as caught:
        build_report([str(path)])
    assert str(caught.value).startswith(f"{path}:2: field '{field}'")
    assert words in str(caught.value)


def test_a_panel_after_plain_lines_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [record(1, "A"), _pair_panel(2, ["A", "B"])])
    with pytest.raises(InputError, match="line 1 has none") as caught:
        build_report([str(path)])
    assert caught.value.line == 2 and caught.value.field == "judgment.panel"


# --- the command line ------------------------------------------------------------------------

def test_command_line(tmp_path: Path) -> None:
    path = str(write_jsonl(tmp_path / "panel.jsonl", _random_panel(n=40, seed=11)))
    runner = CliRunner()
    result = runner.invoke(app, ["report", path, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["panel_members"] == 3 and -1 <= out["panel_alpha"] <= 1
    assert [r["judge"] for r in out["judges"]] == ["panel (majority)", *JUDGES]
    grouped = json.loads(runner.invoke(app, ["report", path, "--json", "--by",
                                             "category"]).output)
    assert all(g["panel_alpha"] is not None for g in grouped["groups"])
    assert len(grouped["judges"]) == 4 * (1 + len(grouped["groups"]))
    table = runner.invoke(app, ["report", path, "--by", "category"]).output
    assert "judges (rows: judge x template)" in table and "panel (majority)" in table
    assert "judgment.panel.2" in table and "alpha" in table
    gate = runner.invoke(app, ["report", path, "--fail-under", "panel_alpha=1.01"])
    assert gate.exit_code == 1
    plain = str(write_jsonl(tmp_path / "plain.jsonl", [record(i, "A") for i in range(3)]))
    assert "judges (rows" not in runner.invoke(app, ["report", plain]).output
