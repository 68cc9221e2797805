"""AlpacaEval 2's length-controlled win rate with its df_gamed.csv (report/alpacaeval_lc.py),
against alpaca_eval's own ``get_length_controlled_winrate`` (alpaca-eval 0.6.6 from PyPI)
run on the same inputs: a small synthetic ``df_gamed.csv`` (two gamed baselines and the
instructions' difficulty, as alpaca_eval reads it; the real one is on the Hugging Face hub
only) and annotations, synthetic or AlpacaEval's own from ../shared (skipped where absent).

The original runs in a Python that has alpaca-eval: ``JUDGECLI_ORIGINALS_PYTHON`` (.ci/run
makes one), else this one if it can import it; otherwise the comparisons skip, saying why.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHARED_DATA, run_cli

from judgecli.errors import InputError
from judgecli.io.jsonl import dumps
from judgecli.report import ReportOptions, build_report
from judgecli.report.alpacaeval_lc import read_gamed
from judgecli.report.convert import alpacaeval

RUNNER = Path(__file__).parent / "originals_alpacaeval.py"
ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"


@functools.cache
def _original_python() -> str | None:
    candidates = [os.environ.get("JUDGECLI_ORIGINALS_PYTHON"), sys.executable]
    for python in filter(None, candidates):
        probe = subprocess.run([python, "-c", "import alpaca_eval.metrics.glm_winrate"],
                               capture_output=True, text=True, timeout=300)
        if probe.returncode == 0:
            return python
    return None


def original(annotations: Path, gamed: Path) -> dict[str, float]:
    python = _original_python()
    if python is None:
        pytest.skip("alpaca-eval is not importable here nor in JUDGECLI_ORIGINALS_PYTHON "
                    "(.ci/run installs it in a venv of its own)")
    done = subprocess.run([python, str(RUNNER), str(annotations), str(gamed)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_gamed(path: Path, n: int, rng: np.random.Generator) -> np.ndarray:
    """Two gamed baselines (verbose and concise) on instructions 0..n-1, written as pandas'
    ``to_csv(index=False)`` would; returns the difficulties."""
    difficulty = rng.normal(0, 1, n)
    lines = ["model,index,preference,std_delta_len,instruction_difficulty,"
             "not_gamed_baseline"]
    for model, shift in (("gamed_verbose", 0.8), ("gamed_concise", -0.8)):
        for k in range(n):
            p = float(np.clip(rng.beta(2, 2) + shift / 4 - difficulty[k] / 10, 0, 1))
            lines.append(f"{model},{k},{p!r},{float(rng.normal(-shift, 0.5))!r},"
                         f"{float(difficulty[k])!r},False")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return difficulty


def write_annotations(path: Path, difficulty: np.ndarray, rng: np.random.Generator,
                      failed: tuple[int, ...] = ()) -> Path:
    items = []
    for k, d in enumerate(difficulty):
        len_1, len_2 = int(rng.integers(40, 400)), int(rng.integers(40, 700))
        z = 0.004 * (len_2 - len_1) - d + rng.normal(0, 1)
        items.append({"instruction": f"instruction {k}", "output_1": "a" * len_1,
                      "output_2": "b" * len_2, "generator_1": "gpt4_1106_preview",
                      "generator_2": "model", "annotator": ANNOTATOR,
                      "preference": None if k in failed else float(1 + 1 / (1 + np.exp(-z)))})
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def ours(annotations: Path, gamed: Path, tmp_path: Path, **options: Any) -> dict[str, Any]:
    converted = tmp_path / "converted.jsonl"
    converted.write_text("".join(dumps(r) + "\n" for r in alpacaeval(str(annotations))),
                         encoding="utf-8")
    (summary,) = build_report([str(converted)],
                              ReportOptions(alpacaeval_gamed=str(gamed), **options))
    return summary


@pytest.mark.parametrize("errors", ["wrong", "drop"])
def test_equals_alpaca_evals_own_function(tmp_path: Path, errors: str) -> None:
    rng = np.random.default_rng(11)
    difficulty = write_gamed(tmp_path / "df_gamed.csv", 90, rng)
    annotations = write_annotations(tmp_path / "annotations.json", difficulty, rng,
                                    failed=(4, 37))
    items = json.loads(annotations.read_text(encoding="utf-8"))
    items[9]["preference"] = 0  # AlpacaEval's old draw: its metrics read it as 1.5
    items[10]["preference"] = 1.5
    annotations.write_text(json.dumps(items), encoding="utf-8")
    expected = original(annotations, tmp_path / "df_gamed.csv")
    summary = ours(annotations, tmp_path / "df_gamed.csv", tmp_path, errors=errors)
    assert summary["alpacaeval_lc_win_rate"] == pytest.approx(
        expected["length_controlled_winrate"], rel=1e-9)
    assert summary["alpacaeval_lc_standard_error"] == pytest.approx(
        expected["lc_standard_error"], rel=1e-9)
    # and get_winrate's figures, which get_length_controlled_winrate returns too
    for key in ("win_rate", "standard_error", "discrete_win_rate"):
        assert summary[f"alpacaeval_{key}"] == pytest.approx(expected[key], rel=1e-12), key
    for key in ("n_wins", "n_wins_base", "n_draws", "n_total"):
        assert summary[f"alpacaeval_{key}"] == expected[key], key
    # the approximation is not shown beside the figure it approximates
    assert summary["alpacaeval_lc_win_rate_approx"] is None
    # the difficulty term moves the figure: it is not the approximation's
    plain = build_report([str(tmp_path / "converted.jsonl")])[0]
    assert abs(plain["alpacaeval_lc_win_rate_approx"] - summary["alpacaeval_lc_win_rate"]) \
        > 0.1


def test_equals_the_original_on_alpacaevals_annotations(tmp_path: Path) -> None:
    """alpaca-7b's 805 annotations by AlpacaEval's own judge (../shared), with a synthetic
    df_gamed.csv of 805 instructions: the leaderboard's 5.88 needs the real one."""
    source = SHARED_DATA / "alpacaeval" / "alpaca-7b.annotations.json"
    if not source.exists():
        pytest.skip(f"{source} is not here")
    write_gamed(tmp_path / "df_gamed.csv", 805, np.random.default_rng(5))
    expected = original(source, tmp_path / "df_gamed.csv")
    summary = ours(source, tmp_path, tmp_path)  # the folder that holds df_gamed.csv
    assert summary["alpacaeval_lc_win_rate"] == pytest.approx(
        expected["length_controlled_winrate"], rel=1e-9)
    assert summary["alpacaeval_lc_standard_error"] == pytest.approx(
        expected["lc_standard_error"], rel=1e-9)


def test_the_baseline_against_itself_is_50(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    difficulty = write_gamed(tmp_path / "df_gamed.csv", 10, rng)
    items = [{"instruction": f"i{k}", "output_1": "same", "output_2": "same",
              "preference": 1.5} for k in range(len(difficulty))]
    (tmp_path / "a.json").write_text(json.dumps(items), encoding="utf-8")
    summary = ours(tmp_path / "a.json", tmp_path / "df_gamed.csv", tmp_path)
    assert (summary["alpacaeval_lc_win_rate"], summary["alpacaeval_lc_standard_error"]) == \
        (50.0, 0.0)


def test_groups_get_it_and_a_file_of_several_models_does_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    difficulty = write_gamed(tmp_path / "df_gamed.csv", 30, rng)
    rows = []
    for model in ("m1", "m2"):
        path = write_annotations(tmp_path / f"{model}.json", difficulty, rng)
        items = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps([{**i, "generator_2": model} for i in items]),
                        encoding="utf-8")
        rows += [{**r, "id": f"{model}/{r['id']}"} for r in alpacaeval(str(path))]
    both = tmp_path / "both.jsonl"
    both.write_text("".join(dumps(r) + "\n" for r in rows), encoding="utf-8")
    (summary,) = build_report([str(both)], ReportOptions(
        by=("model_b",), alpacaeval_gamed=str(tmp_path / "df_gamed.csv")))
    assert summary["alpacaeval_lc_win_rate"] is None  # two model pairs: none pooled
    for group in summary["groups"]:
        alone = ours(tmp_path / f"{group['group']}.json", tmp_path / "df_gamed.csv", tmp_path)
        assert group["alpacaeval_lc_win_rate"] == alone["alpacaeval_lc_win_rate"]


def test_more_items_than_instructions(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    difficulty = write_gamed(tmp_path / "df_gamed.csv", 20, rng)
    annotations = write_annotations(tmp_path / "a.json", np.r_[difficulty, difficulty[:5]],
                                    rng)
    summary = ours(annotations, tmp_path / "df_gamed.csv", tmp_path)
    assert summary["alpacaeval_lc_win_rate"] is None
    assert summary["alpacaeval_lc_terms"].startswith(
        "not computed: 25 items, and ") and "the difficulty of 20 instructions" in \
        summary["alpacaeval_lc_terms"]
    assert summary["alpacaeval_win_rate"] is not None


@pytest.mark.parametrize(("content", "message"), [
    ("model,index,preference\n", "field 'std_delta_len': no column std_delta_len"),
    ("index,preference,std_delta_len,instruction_difficulty,not_gamed_baseline\n"
     "0,1.7,0.1,0.2,False\n", ":2: field 'preference': expected a number in [0, 1]"),
    ("index,preference,std_delta_len,instruction_difficulty,not_gamed_baseline\n"
     "0,0.7,0.1,high,False\n", ":2: field 'instruction_difficulty': expected a number"),
    ("index,preference,std_delta_len,instruction_difficulty,not_gamed_baseline\n"
     "0,0.7,0.1,0.2,maybe\n", ":2: field 'not_gamed_baseline': expected True or False"),
    ("", "empty file"),
])
def test_bad_gamed_files_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "df_gamed.csv"
    path.write_text(content, encoding="utf-8")
    read_gamed.cache_clear()
    with pytest.raises(InputError) as info:
        read_gamed(str(path))
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    difficulty = write_gamed(tmp_path / "df_gamed.csv", 20, rng)
    annotations = write_annotations(tmp_path / "a.json", difficulty, rng)
    judged = tmp_path / "j.jsonl"
    judged.write_text("".join(dumps(r) + "\n" for r in alpacaeval(str(annotations))),
                      encoding="utf-8")
    code, out, err = run_cli(monkeypatch, capsys, "report", str(judged),
                             "--alpacaeval-gamed", str(tmp_path))
    assert code == 0, err
    assert "AlpacaEval length-controlled win rate of B (%)" in out
    assert "approximate" not in out
    code, out, err = run_cli(monkeypatch, capsys, "report", str(judged),
                             "--alpacaeval-gamed", str(tmp_path / "df_gamd.csv"))
    assert code == 2 and "df_gamd.csv: no such file or folder" in err
    assert "Traceback" not in err
    code, out, err = run_cli(monkeypatch, capsys, "report", str(judged),
                             "--alpacaeval-gamed", str(judged.parent / "nothing-here"))
    assert code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(monkeypatch, capsys, "report", str(judged),
                             "--alpacaeval-gamed", str(empty))
    assert code == 2 and "no df_gamed.csv in this folder" in err
