"""``--style-control`` (report/style.py, report/answer_style.py) against Arena-Hard-Auto's own
code and against a re-statement of it.

The original: tests/arenahard_original.py, an excerpt of lmarena/arena-hard-auto
(show_result.py at 005ac120c11d3a1bbc35b0408a926dbc614de9c7, utils/math_utils.py at
a9e743cc0b2c769219d2c4dd573af3d6da17698b, utils/add_markdown_info.py at
3bab2949d60ff0eae3af80cbd4c869a818bb7dd6), run here with torch on the same battles, after
``np.random.seed(seed)`` as its bootstrap draws from numpy's global generator. Its fits stop
L-BFGS after 50 iterations in float32; judgecli's are solved to the optimum in float64, so
the two agree to the original's precision, not to the last digit.

The re-statement (``restated_leaderboard``) follows the same lines of show_result.py and
math_utils.py in float64 with scipy's BFGS for torch's L-BFGS, the baseline's column
included as in ``one_hot_encode``: judgecli's figures must equal it to 1e-6.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_jsonl
from scipy.optimize import minimize
from scipy.special import expit
from test_arenahard import LABELS, record

from judgecli.errors import JudgecliError
from judgecli.report import ReportOptions, build_report
from judgecli.report.answer_style import markdown_counts

original = pytest.importorskip("arenahard_original")  # needs torch, a judgecli dependency

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
TRICKY = [
    "",
    "# Title\n## Sub\n### Three\n#### 4\n##### 5\n###### 6\n####### seven\n#no space",
    "1. one\n2. two\n  3. nested\n- a\n* b\n+ c\n-not\n\n\n- after blank lines",
    "**bold** and __bold__ and **not\nbold** and ** spaced ** and ****",
    "text\n```python\n# not a header\n- not a list\n```\n# header\n```\n**x**\n```",
    "```- a```\n- a\n```x``` then x and x again",  # remove_pattern removes every "x"
    "```unclosed\n# header\n- item",
    "\n\n  \n- item\n\t- tab item\n 10. ten\n",
]


def original_counts(text: str) -> tuple[int, int, int]:
    meta = original.metadata(text, 0)
    return (sum(meta["header_count"].values()), sum(meta["list_count"].values()),
            sum(meta["bold_count"].values()))


@pytest.mark.parametrize("text", TRICKY)
def test_markdown_counts_equal_the_originals(text: str) -> None:
    assert markdown_counts(text) == original_counts(text)


def test_markdown_counts_on_random_texts() -> None:
    rng = np.random.default_rng(3)
    pieces = ["# ", "## ", "- ", "* ", "+ ", "1. ", "12. ", "**", "__", "```", "`", "\n",
              "\n\n", " ", "  ", "word", "x", "#", "_", "*", "\t", "2."]
    for _ in range(400):
        text = "".join(rng.choice(pieces, size=int(rng.integers(0, 40))))
        assert markdown_counts(text) == original_counts(text), repr(text)


# -- battles ------------------------------------------------------------------------------

MODELS = ["base", "m1", "m2", "m3"]
SKILL = {"base": 0.0, "m1": 0.6, "m2": -0.4, "m3": 0.1}
VERBOSE = {"base": 1.0, "m1": 1.0, "m2": 2.5, "m3": 1.6}  # m2 writes long, listy answers


def answer(rng: np.random.Generator, model: str) -> str:
    """A made-up answer: words, some headers, list items, bold spans and a code block."""
    scale = VERBOSE[model]
    parts = ["word " * int(rng.integers(5, 60 * scale))]
    parts += ["## Part\n"] * int(rng.poisson(0.6 * scale))
    parts += ["- item\n"] * int(rng.poisson(2 * scale))
    parts += ["**key** point\n"] * int(rng.poisson(1.0 * scale))
    if rng.random() < 0.3:
        parts.append("```\n# comment\n- x\n```\n")
    order = rng.permutation(len(parts))
    return "".join(parts[k] for k in order)


def judge_label(rng: np.random.Generator, first: str, second: str, text_1: str,
                text_2: str) -> str:
    """A judge who likes skill, the answer shown first, and long answers with lists."""
    d = SKILL[first] - SKILL[second] + 0.2 + rng.normal(0, 1)
    d += 0.4 * math.log(len(text_1) / len(text_2)) + 0.1 * (text_1.count("- ")
                                                          - text_2.count("- "))
    return LABELS[4 - int(np.searchsorted([-1.2, -0.3, 0.3, 1.2], d))]


def synthetic(seed: int, n: int, flip_every: int = 3) -> tuple[list[dict[str, Any]],
                                                                list[dict[str, Any]]]:
    """Judgment records of every model against the base (every ``flip_every``-th record
    with the base as model_b), and each record's Arena-Hard judgment (``games``)."""
    rng = np.random.default_rng(seed)
    rows, judgments = [], []
    for model in MODELS[1:]:
        for q in range(n):
            texts = {"base": answer(rng, "base"), model: answer(rng, model)}
            base_first = judge_label(rng, "base", model, texts["base"], texts[model])
            model_first = judge_label(rng, model, "base", texts[model], texts["base"])
            if q % flip_every:
                row = record(str(q), "base", model, base_first, model_first)
            else:
                row = record(str(q), model, "base", model_first, base_first)
            row["answer_a"], row["answer_b"] = texts[row["model_a"]], texts[row["model_b"]]
            rows.append(row)
            judgments.append({"model": model, "texts": texts, "games": [
                {"score": base_first}, {"score": model_first}]})
    return rows, judgments


def battle_lists(judgments: list[dict[str, Any]]) -> tuple[list[str], list[float],
                                                           list[dict], list[dict]]:
    """show_result.py's battles (load_judgments, then explode) with each row's metadata;
    the length is counted in characters, as judgecli counts it without tiktoken's file."""
    models, scores, own, base = [], [], [], []
    for j in judgments:
        s = original.judgment_scores(j["games"])
        models += [j["model"]] * len(s)
        scores += s
        own += [original.metadata(j["texts"][j["model"]], len(j["texts"][j["model"]]))] \
            * len(s)
        base += [original.metadata(j["texts"]["base"], len(j["texts"]["base"]))] * len(s)
    return models, scores, own, base


def restated_leaderboard(models: list[str], scores: list[float], own: list[dict],
                         base: list[dict], baseline: str, rounds: int, seed: int,
                         ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """print_leaderboard_with_style_features re-stated in float64 (scipy for torch)."""
    def vector(meta: dict) -> list[float]:
        return [v if isinstance(v, int) else sum(v.values()) for v in meta.values()]

    m, b = np.array([vector(x) for x in own], float), np.array([vector(x) for x in base], float)
    final = np.zeros_like(m)
    final[:, 0] = (m[:, 0] - b[:, 0]) / (m[:, 0] + b[:, 0])
    md, bd = m[:, 1:] / m[:, :1], b[:, 1:] / b[:, :1]
    final[:, 1:] = (md - bd) / (md + bd + 1)
    normalised = (final - final.mean(axis=0)) / final.std(axis=0, ddof=1)
    names = sorted(set(models + [baseline]))
    onehot = np.zeros((len(models), len(names)))
    onehot[np.arange(len(models)), [names.index(x) for x in models]] = 1
    onehot[:, names.index(baseline)] = -1
    x = np.hstack([onehot, normalised])
    y = np.array(scores, float)
    np.random.seed(seed)
    draws = np.random.randint(low=0, high=len(x), size=(rounds, len(x)))
    coefs = []
    for idx in draws:
        xx, yy = x[idx], y[idx]

        def loss(theta: np.ndarray, xx: np.ndarray = xx, yy: np.ndarray = yy,
                 ) -> tuple[float, np.ndarray]:
            z = xx @ theta
            value = np.sum(yy * np.logaddexp(0, -z) + (1 - yy) * np.logaddexp(0, z))
            return float(value), xx.T @ (expit(z) - yy)

        fit = minimize(loss, np.full(x.shape[1], 0.5), jac=True, method="BFGS",
                       options={"gtol": 1e-10, "maxiter": 10_000})
        coefs.append(fit.x)
    coefs = np.array(coefs)
    strengths = coefs[:, :len(names)]
    table = expit(strengths - strengths[:, [names.index(baseline)]])
    return (names, *(np.quantile(table, q, axis=0) for q in (0.5, 0.05, 0.95)),
            np.quantile(coefs[:, len(names):], 0.5, axis=0))


def judgecli_style(tmp_path: Path, rows: list[dict[str, Any]], **options: Any,
                   ) -> dict[str, Any]:
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    (summary,) = build_report([str(path)], ReportOptions(style_control=True, **options))
    json.dumps(summary, allow_nan=False)  # --json can print it
    return summary["style_control"]


@pytest.fixture(autouse=True)
def _characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Length in characters whatever tiktoken's cache holds on this machine."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "no-tiktoken-cache"))


def test_equals_arena_hards_code_on_the_same_battles(tmp_path: Path) -> None:
    rows, judgments = synthetic(11, 60)
    style = judgecli_style(tmp_path, rows, seed=SEED, rounds=100)
    models, scores, own, base = battle_lists(judgments)
    assert style["battles"] == len(scores) and style["baseline"] == "base"
    assert style["length_unit"] == "characters" and style["length_note"]
    np.random.seed(SEED)
    names, median, low, high, coefs = original.style_leaderboard(models, scores, own, base,
                                                                 "base")
    got = {r["model"]: r for r in style["ranking"]}
    for k, name in enumerate(names):
        # percentage points; the largest difference seen on three battle sets was 0.008
        assert got[name]["controlled_score"] == pytest.approx(100 * median[k], abs=0.02)
        assert got[name]["controlled_score_ci"] == pytest.approx(
            [100 * low[k], 100 * high[k]], abs=0.02)
    assert [style["coefficients"][f]["median"] for f in ("length", "headers", "lists",
                                                          "bold")] == pytest.approx(
        coefs, abs=2e-4)
    # the judge likes length: its coefficient is clearly positive, and m2's long answers
    # lose part of their lead once it is controlled
    assert style["coefficients"]["length"]["ci"][0] > 0
    assert got["m2"]["controlled_score"] < got["m2"]["score"]


def test_equals_a_float64_restatement(tmp_path: Path) -> None:
    rows, judgments = synthetic(5, 40)
    style = judgecli_style(tmp_path, rows, seed=SEED, rounds=30)
    names, median, low, high, coefs = restated_leaderboard(*battle_lists(judgments), "base",
                                                           30, SEED)
    got = {r["model"]: r for r in style["ranking"]}
    for k, name in enumerate(names):
        assert got[name]["controlled_score"] == pytest.approx(100 * median[k], abs=1e-6)
        assert got[name]["controlled_score_ci"] == pytest.approx(
            [100 * low[k], 100 * high[k]], abs=1e-6)
    assert [c["median"] for c in style["coefficients"].values()] == pytest.approx(coefs,
                                                                                  abs=1e-6)


def without_label5(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same records as a judge without five-level verdicts writes them."""
    out = json.loads(json.dumps(rows))
    for row in out:
        for order in row["judgment"]["orders"]:
            del order["label5"]
    return out


def test_plain_verdicts_are_one_battle_per_order(tmp_path: Path) -> None:
    rows, judgments = synthetic(9, 30)
    style = judgecli_style(tmp_path, without_label5(rows), seed=SEED, rounds=20)
    assert style["battles_from"] == "verdict" and style["battles"] == 2 * len(rows)
    # a strong verdict is then one battle: Arena-Hard's battles with weight 1
    models, scores, own, base = [], [], [], []
    for j in judgments:
        s = original.judgment_scores(j["games"], weight=1)
        models += [j["model"]] * len(s)
        scores += s
        own += [original.metadata(j["texts"][j["model"]], len(j["texts"][j["model"]]))] * 2
        base += [original.metadata(j["texts"]["base"], len(j["texts"]["base"]))] * 2
    names, median, _, _, coefs = restated_leaderboard(models, scores, own, base, "base", 20,
                                                      SEED)
    got = {r["model"]: r for r in style["ranking"]}
    assert [got[n]["controlled_score"] for n in names] == pytest.approx(100 * median,
                                                                        abs=1e-6)
    assert [c["median"] for c in style["coefficients"].values()] == pytest.approx(coefs,
                                                                                  abs=1e-6)


def test_a_feature_the_same_everywhere_is_left_out(tmp_path: Path) -> None:
    rows, judgments = synthetic(4, 30)
    for row in rows:
        row["answer_a"], row["answer_b"] = (row[k].replace("**", "") for k in
                                            ("answer_a", "answer_b"))
    for j in judgments:
        j["texts"] = {m: t.replace("**", "") for m, t in j["texts"].items()}
    style = judgecli_style(tmp_path, rows, seed=SEED, rounds=20)
    assert style["features_left_out"] == ["bold"]
    assert list(style["coefficients"]) == ["length", "headers", "lists"]
    models, scores, own, base = battle_lists(judgments)
    for meta in own + base:
        assert sum(meta["bold_count"].values()) == 0
    # the original would divide by a zero standard deviation; without that column:
    trimmed = [{k: v for k, v in meta.items() if k != "bold_count"} for meta in own], \
        [{k: v for k, v in meta.items() if k != "bold_count"} for meta in base]
    names, median, _, _, coefs = restated_leaderboard(models, scores, *trimmed, "base", 20,
                                                      SEED)
    got = {r["model"]: r for r in style["ranking"]}
    assert [got[n]["controlled_score"] for n in names] == pytest.approx(100 * median,
                                                                        abs=1e-6)
    assert [c["median"] for c in style["coefficients"].values()] == pytest.approx(coefs,
                                                                                  abs=1e-6)


def test_a_model_that_always_wins_and_battles_the_fit_leaves_out(tmp_path: Path) -> None:
    rows, _ = synthetic(6, 20)
    for q in range(8):  # m9 wins every game against the base, strongly
        row = record(f"w{q}", "base", "m9", "B>>A", "A>>B")
        row["answer_a"], row["answer_b"] = "short", "a much longer answer\n- with a list"
        rows.append(row)
    between = record("x", "m1", "m2", "A>B", "A=B")  # neither is the base
    between["answer_a"], between["answer_b"] = "one", "two"
    rows.append(between)
    with pytest.raises(JudgecliError, match="no model is in every record of .*--baseline"):
        judgecli_style(tmp_path, rows, rounds=20)
    style = judgecli_style(tmp_path, rows, seed=SEED, rounds=20, baseline="base")
    assert style["battles_left_out"] == 2
    top = style["ranking"][0]
    assert top["model"] == "m9" and top["battles"] == 8 * 6
    assert top["controlled_score"] == 100.0 and top["controlled_score_ci"] == [100.0, 100.0]
    assert top["controlled_rating"] is None and top["rating"] is None  # infinite


def test_failed_games_follow_errors(tmp_path: Path) -> None:
    rows, _ = synthetic(2, 10)
    rows[0] = record("f", "base", "m1", "A>>B", None)  # the order BA failed
    rows[0]["answer_a"], rows[0]["answer_b"] = "an answer", "another answer"
    everything = judgecli_style(tmp_path, rows[1:], rounds=5)["battles"]
    wrong = judgecli_style(tmp_path, rows, errors="wrong", rounds=5)
    tie = judgecli_style(tmp_path, rows, errors="tie", rounds=5)
    drop = judgecli_style(tmp_path, rows, errors="drop", rounds=5)
    assert wrong["battles"] == drop["battles"] == everything  # the item is left out
    assert tie["battles"] == everything + 3 + 1  # A>>B is 3 battles, the failed game a tie


def test_a_narrow_terminal_wraps_cells_rather_than_cutting_them(tmp_path: Path) -> None:
    import os

    from rich.console import Console

    from judgecli.report.render import print_style

    rows, _ = synthetic(8, 15)
    style = judgecli_style(tmp_path, rows, rounds=5)
    for width in (80, 100):
        console = Console(width=width, record=True, file=open(os.devnull, "w"))
        print_style(style, "judged.jsonl", console)
        text = console.export_text()
        assert "…" not in text and all(len(line) <= width for line in text.splitlines())
        for row in style["ranking"]:
            if row["controlled_score"] is not None:
                assert f"{row['controlled_score']:.2f}" in text


def test_report_cli_prints_both_and_names_each_interval(tmp_path: Path) -> None:
    rows, _ = synthetic(8, 15)
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path / "none"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    run = subprocess.run([sys.executable, "-m", "judgecli", "report", str(path),
                          "--style-control", "--rounds", "20"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "Style control" in text and "baseline base" in text
    for phrase in ("uncontrolled %", "controlled %", "controlled rating",
                   "median of 20 fits on the battles resampled with replacement",
                   "90% CI: their 5th and 95th percentiles", "style coefficients",
                   "note: length in characters, not in o200k_base tokens"):
        assert phrase in text, phrase
    as_json = subprocess.run([sys.executable, "-m", "judgecli", "report", str(path),
                              "--style-control", "--rounds", "20", "--json"],
                             capture_output=True, text=True, timeout=300, env=env)
    style = json.loads(as_json.stdout)["style_control"]
    assert {r["model"] for r in style["ranking"]} == set(MODELS)
    for model in MODELS[1:]:
        row = next(r for r in style["ranking"] if r["model"] == model)
        assert f"{row['controlled_score']:.2f}" in run.stdout


@pytest.mark.parametrize("change, args, message", [
    (lambda r: r.pop("answer_b"), [],
     ":3: field 'answer_b': style control needs each answer's text"),
    (lambda r: r.pop("model_a"), [],
     ":3: field 'model_a': missing (style control needs model_a and model_b)"),
    (lambda r: None, ["--baseline", "nobody"], "--baseline nobody: not a model of"),
    (lambda r: None, ["--style-contrl"], "No such option"),
])
def test_report_cli_errors_are_one_line(tmp_path: Path, change: Any, args: list[str],
                                        message: str) -> None:
    rows, _ = synthetic(1, 4)
    change(rows[2])
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    run = subprocess.run([sys.executable, "-m", "judgecli", "report", str(path),
                          "--style-control", *args], capture_output=True, text=True,
                         timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert message in run.stderr


def test_tokens_where_tiktoken_has_its_file(monkeypatch: pytest.MonkeyPatch) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    from judgecli.report import answer_style

    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    measure, unit, note = answer_style.length_measure()
    if unit != answer_style.TOKENS:
        assert note and "cache" in note
        pytest.skip("tiktoken's o200k_base file is not cached here")
    text = "Hello **world**\n- a list <|endoftext|>"
    assert measure(text) == len(tiktoken.encoding_for_model("gpt-4o").encode(
        text, disallowed_special=()))


@pytest.mark.skipif(not (ROOT / "examples" / "demo-judge" / "config.json").exists(),
                    reason="examples/demo-judge is not built")
def test_compare_style_control_with_a_real_judge(tmp_path: Path) -> None:
    """compare --style-control judges with the demo judge (a real Llama model), then its
    figures are checked against the re-statement on the records it wrote."""
    out = tmp_path / "judged.jsonl"
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path / "none"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "judgecli", "compare",
                          str(ROOT / "examples" / "model_a.jsonl"),
                          str(ROOT / "examples" / "model_b.jsonl"), "--judge",
                          str(ROOT / "examples" / "demo-judge"), "--style-control", "--json",
                          "-o", str(out), "--seed", str(SEED), "--quiet"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr
    style = json.loads(run.stdout)["style_control"]
    assert style["baseline"] == "model-a" and style["battles_from"] == "verdict"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    models, scores, own, base = [], [], [], []
    for r in records:  # the model shown first (order BA) first, as load_judgments
        verdicts = {o["order"]: o["verdict"] for o in r["judgment"]["orders"]}
        for order in ("BA", "AB"):
            models.append(r["model_b"])
            scores.append({"B": 1, "tie": 0.5, "A": 0}[verdicts[order]])
            own.append({"token_len": len(r["answer_b"])})
            base.append({"token_len": len(r["answer_a"])})
    assert style["battles"] == len(scores) == 120
    # no answer of the examples has markdown: length is the one feature
    assert style["features_left_out"] == ["headers", "lists", "bold"]
    names, median, low, high, coefs = restated_leaderboard(models, scores, own, base,
                                                           "model-a", 100, SEED)
    got = {row["model"]: row for row in style["ranking"]}
    assert [got[n]["controlled_score"] for n in names] == pytest.approx(100 * median,
                                                                        abs=1e-6)
    assert [v for n in names for v in got[n]["controlled_score_ci"]] == pytest.approx(
        [100 * v for pair in zip(low, high, strict=True) for v in pair], abs=1e-6)
    assert style["coefficients"]["length"]["median"] == pytest.approx(coefs[0], abs=1e-6)


def test_features_that_separate_the_outcomes_have_no_optimum(tmp_path: Path) -> None:
    """B wins exactly where its answer is the longer: the likelihood grows without end as
    the length coefficient does; such a round is counted, never printed as a figure."""
    rows = []
    for q in range(6):
        wins = q % 2 == 0
        row = record(str(q), "a", "b", "B>A" if wins else "A>B", "A>B" if wins else "B>A")
        row["answer_a"], row["answer_b"] = ("x" * 50, "y" * (80 if wins else 20))
        rows.append(without_label5([row])[0])
    style = judgecli_style(tmp_path, rows, seed=SEED, rounds=50)
    assert style["battles"] == 12 and style["baseline"] == "a"
    draws = np.random.RandomState(SEED).randint(0, 12, size=(50, 12))
    outcome = np.repeat([1.0, 0.0] * 3, 2)  # per battle row, b's score
    mixed = sum(len(set(outcome[d])) > 1 for d in draws)
    assert style["rounds_without_optimum"] == mixed > 0
    # the rounds with one outcome only: b wins (loses) all, and says nothing of length
    assert style["coefficients"]["length"] == {"median": None, "ci": None}
