"""AlpacaEval: ``judgecli convert alpacaeval`` and the report's AlpacaEval figures.

Against the published AlpacaEval 2.0 leaderboard on the six models' annotations in
../shared/data/alpacaeval (skipped where absent), and on a hand-made file whose figures are
computed here from AlpacaEval's rules (tatsu-lab/alpaca_eval metrics/winrate.py and
glm_winrate.py) with numpy, scipy and scikit-learn.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHARED_DATA, write_jsonl
from scipy.stats import sem
from sklearn.linear_model import LogisticRegression

from judgecli.compare import _pair_summaries
from judgecli.errors import InputError
from judgecli.io.jsonl import dumps
from judgecli.report import ReportOptions, build_report, render
from judgecli.report.convert import alpacaeval

DATA = SHARED_DATA / "alpacaeval"
MODELS = ("gpt4_1106_preview", "alpaca-7b", "gpt-3.5-turbo-1106",
          "FuseChat-Llama-3.1-8B-Instruct", "phi-2", "claude-2.1_concise")
COUNTS = ("n_wins", "n_wins_base", "n_draws", "n_total")
RATES = ("win_rate", "standard_error", "discrete_win_rate")


def _convert(source: Path, out: Path) -> str:
    out.write_text("".join(dumps(r) + "\n" for r in alpacaeval(str(source))), encoding="utf-8")
    return str(out)


def _report(path: str, **options: Any) -> dict[str, Any]:
    (summary,) = build_report([path], ReportOptions(**options))
    return summary


def _glm_lc(won: np.ndarray, delta: np.ndarray) -> float:
    """The length-controlled win rate without the difficulty term, fitted as AlpacaEval's
    ``fit_LogisticRegressionCV`` feeds soft labels (each item twice: y=1 weighted p, y=0
    weighted 1-p), by scikit-learn without penalty: 100 * sigmoid(model coefficient)."""
    x = np.c_[np.ones(len(won)), np.tanh(delta / np.std(delta, ddof=1))]
    fit = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-14, max_iter=100_000)
    fit.fit(np.vstack([x, x]), np.r_[np.ones(len(won)), np.zeros(len(won))],
            sample_weight=np.r_[won, 1 - won])
    return 100 / (1 + math.exp(-fit.coef_[0][0]))


# --- The published leaderboard --------------------------------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """Per model: (the leaderboard's row, judgecli's report of the converted annotations)."""
    if not DATA.exists():
        pytest.skip(f"{DATA} is not here")
    with open(DATA / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
              encoding="utf-8") as handle:
        board = {row[""]: row for row in csv.DictReader(handle)}
    tmp = tmp_path_factory.mktemp("alpacaeval")
    return {m: (board[m], _report(_convert(DATA / f"{m}.annotations.json", tmp / f"{m}.jsonl")))
            for m in MODELS}


@pytest.mark.parametrize("model", MODELS)
def test_leaderboard_figures(published: dict[str, tuple[dict, dict]], model: str) -> None:
    row, summary = published[model]
    for key in RATES:
        assert summary[f"alpacaeval_{key}"] == pytest.approx(float(row[key]), abs=1e-6), key
    for key in COUNTS:
        assert summary[f"alpacaeval_{key}"] == int(row[key]), key
    assert summary["n"] == int(row["n_total"]) and summary["n_failed"] == 0


def test_length_controlled_ranks_as_the_leaderboard(
        published: dict[str, tuple[dict, dict]]) -> None:
    board = {m: float(row["length_controlled_winrate"]) for m, (row, _) in published.items()}
    ours = {m: s["alpacaeval_lc_win_rate_approx"] for m, (_, s) in published.items()}
    print("\nmodel, LC leaderboard, LC judgecli without difficulty, difference")
    for m in sorted(board, key=board.__getitem__, reverse=True):
        print(f"{m:32s} {board[m]:8.3f} {ours[m]:8.3f} {ours[m] - board[m]:+8.3f}")
    assert sorted(board, key=board.__getitem__) == sorted(ours, key=ours.__getitem__)
    assert ours["gpt4_1106_preview"] == 50.0  # the baseline against itself, as AlpacaEval
    for _, summary in published.values():
        # never under the leaderboard's name without df_gamed.csv
        assert summary["alpacaeval_lc_win_rate"] is None
        assert "no instruction difficulty" in summary["alpacaeval_lc_terms"]


def test_length_controlled_equals_an_independent_fit(
        published: dict[str, tuple[dict, dict]]) -> None:
    for model in ("alpaca-7b", "FuseChat-Llama-3.1-8B-Instruct"):
        with open(DATA / f"{model}.annotations.json", encoding="utf-8") as handle:
            items = json.load(handle)
        won = np.array([r["preference"] for r in items]) - 1
        delta = np.array([len(r["output_2"]) - len(r["output_1"]) for r in items], float)
        assert published[model][1]["alpacaeval_lc_win_rate_approx"] == pytest.approx(
            _glm_lc(won, delta), abs=1e-5)


def test_two_models_side_by_side_on_shared_instructions(tmp_path: Path) -> None:
    """Ids come from the instruction, so files whose items are in different orders (phi-2
    has 803 of the 805) are joined on the same instructions."""
    if not DATA.exists():
        pytest.skip(f"{DATA} is not here")
    paths = [_convert(DATA / f"{m}.annotations.json", tmp_path / f"{m}.jsonl")
             for m in ("alpaca-7b", "phi-2")]
    alpaca, phi = build_report(paths)
    assert (alpaca["n"], alpaca["n_unshared"], phi["n"], phi["n_unshared"]) == (803, 2, 803, 0)
    assert phi["alpacaeval_win_rate"] == pytest.approx(2.350209543026152, abs=1e-9)


# --- A hand-made annotation file ------------------------------------------------------------

def _item(k: int, preference: Any, len_1: int, len_2: int) -> dict[str, Any]:
    return {"instruction": f"question {k}", "output_1": "a" * len_1, "output_2": "b" * len_2,
            "generator_1": "base", "generator_2": "model", "preference": preference}


PREFS = [1.9, 1.2, 1.5, 2.0, 1.0, 1.65, 1.35, 1.8, 1.05, 1.5, 1.7, 1.4]
LENGTHS = [(10, 40), (30, 12), (20, 20), (5, 60), (50, 9), (22, 30), (18, 25), (12, 50),
           (40, 10), (8, 8), (15, 35), (33, 21)]
BAD = [None, float("nan"), "1.7", 2.5, -1]  # failed judgments, each with its reason


@pytest.fixture()
def handmade(tmp_path: Path) -> Path:
    items = [_item(k, p, *n) for k, (p, n) in enumerate(zip(PREFS, LENGTHS, strict=True))]
    items += [_item(100 + k, p, 10, 20) for k, p in enumerate(BAD)]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(items), encoding="utf-8")  # NaN written as NaN, as pandas can
    return path


def test_convert_handmade(handmade: Path) -> None:
    rows = list(alpacaeval(str(handmade)))
    expected = ["B" if p > 1.5 else "A" if p < 1.5 else "tie" for p in PREFS]
    assert [r["judgment"]["verdict"] for r in rows] == expected + [None] * len(BAD)
    assert [r["judgment"]["preference"] for r in rows] == PREFS + [None] * len(BAD)
    confidence = [p - 1 if p > 1.5 else 2 - p if p < 1.5 else 0.5 for p in PREFS]
    assert [r["judgment"]["confidence"] for r in rows[:len(PREFS)]] == \
        pytest.approx(confidence, abs=1e-12)
    errors = [r["judgment"]["error"] for r in rows]
    assert errors[:len(PREFS)] == [None] * len(PREFS)
    assert [e.split(":")[0] for e in errors[len(PREFS):]] == [
        "no preference (null)", "no preference (NaN)", "preference '1.7' is not a number",
        "preference 2.5 is outside [1, 2]", "preference -1 is outside [1, 2]"]
    first = rows[0]
    assert (first["answer_a"], first["answer_b"], first["model_a"], first["model_b"]) == \
        ("a" * 10, "b" * 40, "base", "model")
    assert first["judgment"]["judge"] == "alpacaeval" and "orders" not in first["judgment"]
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("errors", ["wrong", "drop", "tie"])
def test_report_handmade_against_the_rules(handmade: Path, tmp_path: Path,
                                           errors: str) -> None:
    summary = _report(_convert(handmade, tmp_path / "j.jsonl"), errors=errors)
    prefs = np.array(PREFS + ([1.5] * len(BAD) if errors == "tie" else []))
    delta = np.array([b - a for a, b in LENGTHS] + ([10] * len(BAD) if errors == "tie"
                                                    else []), float)
    won = prefs - 1
    wins, base = int((prefs > 1.5).sum()), int((prefs < 1.5).sum())
    draws = len(prefs) - wins - base
    assert summary["alpacaeval_win_rate"] == pytest.approx(won.mean() * 100, abs=1e-12)
    assert summary["alpacaeval_standard_error"] == pytest.approx(sem(won) * 100, abs=1e-12)
    assert summary["alpacaeval_discrete_win_rate"] == pytest.approx(
        (wins + draws / 2) / len(prefs) * 100, abs=1e-12)
    assert (summary["alpacaeval_n_wins"], summary["alpacaeval_n_wins_base"],
            summary["alpacaeval_n_draws"], summary["alpacaeval_n_total"]) == \
        (wins, base, draws, len(prefs))
    assert summary["alpacaeval_lc_win_rate_approx"] == pytest.approx(_glm_lc(won, delta),
                                                                     abs=1e-5)
    assert summary["alpacaeval_lc_win_rate"] is None
    assert summary["n_failed"] == len(BAD)


def test_zero_is_alpacaevals_old_draw() -> None:
    from judgecli.report.convert import alpacaeval_preference

    # metrics/helpers.py describe_head2head: predictions.replace({0.0: 1.5})
    assert alpacaeval_preference(0) == (1.5, None)
    assert alpacaeval_preference(0.0) == (1.5, None)


def test_length_term_absent_when_every_length_is_equal(tmp_path: Path) -> None:
    items = [_item(k, p, 10, 10) for k, p in enumerate([1.2, 1.9, 1.6])]
    path = tmp_path / "same.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    summary = _report(_convert(path, tmp_path / "j.jsonl"))
    assert summary["alpacaeval_lc_win_rate_approx"] == pytest.approx((0.2 + 0.9 + 0.6) / 3 * 100)


def test_figures_absent_without_preferences(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "j.jsonl", [
        {"id": 1, "answer_a": "x", "answer_b": "yy", "judgment": {"verdict": "A"}}])
    summary = _report(str(path))
    assert summary["alpacaeval_win_rate"] is None and summary["alpacaeval_n_total"] is None


def test_render_and_compare_show_the_figures(handmade: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from judgecli.compare.render import alpacaeval_sentence

    path = _convert(handmade, tmp_path / "j.jsonl")
    console = Console(record=True, width=250, file=io.StringIO())
    render(build_report([path]), console)
    text = console.export_text()
    assert "AlpacaEval win rate of B (%)" in text
    assert "LC win rate (approximate: no instruction difficulty)" in text
    assert "AlpacaEval length-controlled" not in text
    report = _report(path, by=("model_a", "model_b"))
    (pair,) = _pair_summaries(report, None, ["base", "model"])
    assert pair["alpacaeval_win_rate"] == pytest.approx(report["alpacaeval_win_rate"])
    sentence = alpacaeval_sentence(pair)
    assert "LC win rate (approximate: no instruction difficulty)" in sentence
    assert "length-controlled" not in sentence


# --- Bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "message"), [
    ({"instruction": "q"}, "expected a JSON list of objects"),
    ([_item(0, 1.2, 1, 1), "oops"], "field '[1]': expected an object, got str"),
    ([_item(0, 1.2, 1, 1), {**_item(1, 1.2, 1, 1), "output_2": None}],
     "field '[1].output_2': expected text, got NoneType"),
    ([{k: v for k, v in _item(0, 1.2, 1, 1).items() if k != "preference"}],
     "field '[0].preference': missing"),
    ([_item(0, 1.2, 1, 1), {**_item(1, 1.2, 1, 1), "generator_2": "other"}],
     "field '[1].generator_2': 'other', but index 0 has 'model'"),
])
def test_malformed_files(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(InputError) as info:
        list(alpacaeval(str(path)))
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_command_line(tmp_path: Path, handmade: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "judgecli", "convert", "alpacaeval",
                         str(handmade)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == len(PREFS) + len(BAD)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([_item(0, 1.2, 1, 1), 3]), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "judgecli", "convert", "alpacaeval",
                           str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == \
        f"judgecli: error: {bad}: field '[1]': expected an object, got int"


@pytest.mark.parametrize(("preference", "message"), [
    (2.5, "j.jsonl:2: field 'judgment.preference': expected a number in [1, 2]"),
    ("1.7", "j.jsonl:2: field 'judgment.preference': expected a number in [1, 2]"),
    (None, "j.jsonl:2: field 'judgment.preference': missing, while line 1 has one"),
])
def test_report_rejects_bad_preferences(tmp_path: Path, preference: Any, message: str) -> None:
    records = [{"id": k, "answer_a": "x", "answer_b": "y",
                "judgment": {"verdict": "B", "preference": p}}
               for k, p in enumerate([1.7, preference])]
    path = write_jsonl(tmp_path / "j.jsonl", records)
    with pytest.raises(InputError, match=re.escape(message)):
        _report(str(path))
