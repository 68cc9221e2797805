"""``judgecli convert arenahard`` / ``convert mtbench`` (report/convert_lmsys.py): published
judgments in, the figures their own ``show_result.py`` gives out.

Excerpts (tests/data/README.md says where each line comes from; texts shortened, every
verdict, score, id and model as published):

* tests/data/arenahard/gpt-4-1106-preview/: Arena-Hard v0.1's judgments by gpt-4-1106-preview
  of gpt-3.5-turbo-0125 and gpt-4-0613 against gpt-4-0314, as lmarena publishes them in
  v2.0's record format (copied in neuralmagic/arena-hard-auto 97fd53ac,
  data/arena-hard-v0.1/model_judgment/gpt-4-1106-preview/).
* tests/data/mtbench/: FastChat ``gen_judgment.py`` output, gpt-4_single.jsonl (jxiw/FastChat
  baaf3d3a and instructlab/eval 810dcfce) and gpt-4_pair.jsonl (Stefanstud/FastChat
  cd4412af).

Expected figures are re-stated here from the originals, which are not on PyPI in a usable
form: Arena-Hard's v2.0 ``show_result.py`` ``load_judgments`` / ``print_leaderboard``
(lmarena/arena-hard-auto 005ac120) and v0.1's ``compute_mle_elo`` (test_arenahard.py);
FastChat ``fastchat/llm_judge/show_result.py`` (lm-sys/FastChat 02d4581b)
``display_result_single`` and ``display_result_pairwise``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import read_jsonl, run_cli
from test_arenahard import mle_elo

from judgecli.errors import InputError
from judgecli.io.jsonl import dumps
from judgecli.report import ReportOptions, build_report
from judgecli.report.convert_lmsys import arenahard, mtbench

DATA = Path(__file__).parent / "data"
ARENA = DATA / "arenahard" / "gpt-4-1106-preview"
# v2.0 load_judgments, weight 3: the scores of the answer shown first
LABEL_TO_SCORE = {"A>B": [1], "A>>B": [1] * 3, "A=B": [0.5], "A<<B": [0] * 3, "A<B": [0],
                  "B>A": [0], "B>>A": [0] * 3, "B=A": [0.5], "B<<A": [1] * 3, "B<A": [1]}


def _write(path: Path, records: Any) -> str:
    path.write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _published_arena() -> list[dict[str, Any]]:
    return [row for f in sorted(ARENA.glob("*.jsonl")) for row in read_jsonl(f)]


def v2_scores(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """v2.0: per model, its battle scores (judgments with a null game left out)."""
    out: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        first, second = (g["score"] for g in row["games"])
        if first is None or second is None:
            continue
        out[row["model"]] += LABEL_TO_SCORE[second] + [1 - s for s in LABEL_TO_SCORE[first]]
    return out


def v01_battles(rows: list[dict[str, Any]], baseline: str) -> list[tuple[str, str, float]]:
    """v0.1 get_battles_from_judgment: (baseline, model, the baseline's outcome) a battle,
    three for a strong verdict; a game without one of its five labels none."""
    out = []
    for row in rows:
        for k, game in enumerate(row["games"]):
            label = game["score"]
            if label not in ("A>>B", "A>B", "A=B", "B>A", "B>>A"):
                continue
            weight = 3 if ">>" in label else 1
            first_wins = {"A": 1.0, "B": 0.0}.get(label[0]) if label != "A=B" else 0.5
            baseline_share = first_wins if k == 0 else 1 - first_wins
            out += [(baseline, row["model"], baseline_share)] * weight
    return out


def test_arena_hard_excerpt_gives_its_published_figures(tmp_path: Path) -> None:
    rows = _published_arena()
    path = _write(tmp_path / "arena.jsonl", arenahard(str(ARENA)))
    rounds = 400
    (out,) = build_report([path], ReportOptions(rounds=rounds))
    assert out["arenahard_baseline"] == "gpt-4-0314" and out["n_model_pairs"] == 2
    scores = v2_scores(rows)
    groups = {g["group"]: g for g in out["groups"]}
    for model, battle_scores in scores.items():
        pair = groups[f"gpt-4-0314 / {model}"]
        assert pair["arenahard_battles"] == len(battle_scores)
        # v2.0 prints the mean of its bootstrap means: within 4 standard errors of the mean
        error = 100 * np.std(battle_scores) / np.sqrt(len(battle_scores) * rounds)
        assert pair["arenahard_score"] == pytest.approx(100 * np.mean(battle_scores),
                                                        abs=4 * error)
    models = ["gpt-4-0314", *sorted(scores)]
    want = mle_elo(v01_battles(rows, "gpt-4-0314"), models, "gpt-4-0314")
    for row in out["arenahard_ranking"]:
        assert row["rating"] == pytest.approx(want[row["model"]], abs=1e-3)
        if row["model"] != "gpt-4-0314":  # one score per pair
            pair = groups[f"gpt-4-0314 / {row['model']}"]
            assert row["score"] == pair["arenahard_score"]


def test_arena_hard_records(tmp_path: Path) -> None:
    (first, *_) = arenahard(str(ARENA / "gpt-4-0613.jsonl"))
    assert (first["model_a"], first["model_b"], first["prompt_id"]) == \
        ("gpt-4-0314", "gpt-4-0613", "b4b1c3f799f6459b8cfb15fa27e399e7")
    assert first["question"] == "Write a Scheme program to decide whether a number is odd."
    assert first["answer_a"].startswith("Here's a simple Scheme program")  # the baseline's
    ab, ba = first["judgment"]["orders"]
    # game 1 "A>B" (the baseline better); game 2 "B>A" shows the model as A: the baseline
    # better too, "A>B" in the record's terms
    assert (ab["label5"], ab["verdict"], ba["label5"], ba["verdict"]) == ("A>B", "A", "A>B", "A")
    assert first["judgment"]["verdict"] == "A"
    # v0.1 records: question_id, no baseline field; a null game and v2.0's reversed spelling
    v01 = tmp_path / "m.jsonl"
    v01.write_text(json.dumps({"question_id": "q1", "model": "m", "judge": "j", "games": [
        {"score": None, "judgment": "no verdict"}, {"score": "A<<B", "judgment": "x"}]}) + "\n",
        encoding="utf-8")
    (rec,) = arenahard(str(v01))
    assert rec["model_a"] == "gpt-4-0314" and rec["question"] is None
    ab, ba = rec["judgment"]["orders"]
    assert ab["error"] == "no verdict (score null)" and ba["label5"] == "A>>B"
    assert rec["judgment"]["verdict"] is None  # one game failed: the item fails
    (other,) = arenahard(str(v01), baseline="gpt-4o")
    assert other["model_a"] == "gpt-4o"


def test_mt_bench_single_excerpt_gives_show_results_scores(tmp_path: Path) -> None:
    source = DATA / "mtbench" / "gpt-4_single.jsonl"
    rows = read_jsonl(source)
    path = _write(tmp_path / "mt.jsonl", mtbench(str(source)))
    # display_result_single: rows with score -1 dropped, then the mean per model (and turn)
    kept = [r for r in rows if r["score"] != -1]
    (by_model,) = build_report([path], ReportOptions(by=("model",)))
    for group in by_model["groups"]:
        want = [r["score"] for r in kept if r["model"] == group["group"]]
        assert group["mean_score"] == pytest.approx(np.mean(want), abs=1e-12)
    (by_turn,) = build_report([path], ReportOptions(by=("model", "turn")))
    for group in by_turn["groups"]:
        model, turn = group["group"].split(" / ")
        want = [r["score"] for r in kept if r["model"] == model and r["turn"] == int(turn)]
        assert group["mean_score"] == (pytest.approx(np.mean(want), abs=1e-12) if want
                                       else None)
    assert by_model["n_failed"] == sum(r["score"] == -1 for r in rows)


def fastchat_pairwise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """display_result_pairwise (pairwise-all): each model's win_rate_adjusted."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # win, loss, tie
    for row in rows:
        g1, g2 = row["g1_winner"], row["g2_winner"]
        if "error" in (g1, g2):
            continue
        if g1 == "tie" or g1 != g2:
            counts[row["model_1"]][2] += 1
            counts[row["model_2"]][2] += 1
        else:
            winner, loser = (row["model_1"], row["model_2"]) if g1 == "model_1" else \
                (row["model_2"], row["model_1"])
            counts[winner][0] += 1
            counts[loser][1] += 1
    return {m: (w + 0.5 * t) / (w + lo + t) for m, (w, lo, t) in counts.items()}


def test_mt_bench_pairwise_gives_show_results_win_rates(tmp_path: Path) -> None:
    published = read_jsonl(DATA / "mtbench" / "gpt-4_pair.jsonl")
    # and hand-made lines in FastChat's format: every outcome, an error game too
    outcomes = [("model_1", "model_1"), ("model_2", "model_2"), ("tie", "tie"),
                ("model_1", "tie"), ("error", "model_1"), ("model_1", "model_1"),
                ("model_2", "model_1"), ("model_1", "model_1")]
    made = [{"question_id": 100 + k, "model_1": "m1", "model_2": "base", "g1_winner": g1,
             "g2_winner": g2, "judge": ["gpt-4", "pair-v2"], "turn": 1}
            for k, (g1, g2) in enumerate(outcomes)]
    for rows in (published, made):
        source = _write(tmp_path / "pair.jsonl", rows)
        path = _write(tmp_path / "judged.jsonl", mtbench(source))
        (out,) = build_report([path])
        want = fastchat_pairwise(rows)
        assert out["win_rate"] == pytest.approx(want[rows[0]["model_1"]], abs=1e-12)
        assert out["n_failed"] == sum("error" in (r["g1_winner"], r["g2_winner"]) for r in rows)


@pytest.mark.parametrize(("args", "message"), [
    (["arenahard", "{tmp}/nothing"], "{tmp}/nothing: no such file or folder"),
    (["arenahard", "{tmp}"], "no .jsonl files in this folder"),
    (["arenahard", "{tmp}/bad.jsonl"], "bad.jsonl:1: field 'model': missing"),
    (["mtbench", "{tmp}/mixed.jsonl"], "mixed.jsonl:2: a pair judgment, while line 1 is a "
                                       "single one"),
])
def test_bad_input_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str], args: list[str],
                               message: str) -> None:
    work = tmp_path / "w"
    work.mkdir()
    (tmp_path / "bad.jsonl").write_text(json.dumps({"uid": "u", "games": []}) + "\n",
                                        encoding="utf-8")
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps({"question_id": 1, "model": "m", "score": 5, "turn": 1}) + "\n" +
        json.dumps({"question_id": 1, "model_1": "a", "model_2": "b", "g1_winner": "tie",
                    "g2_winner": "tie"}) + "\n", encoding="utf-8")
    tmp = str(tmp_path if "nothing" in args[1] or "jsonl" in args[1] else work)
    code, out, err = run_cli(monkeypatch, capsys, "convert",
                             *[a.format(tmp=tmp) for a in args])
    assert code == 2 and len(err.strip().splitlines()) == 1  # records stream: some may be out
    assert err.startswith("judgecli: error: ") and message.format(tmp=tmp) in err


def test_convert_errors_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"uid": "u", "model": "m", "games": "x"}) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="field 'games': expected a list of one or two"):
        list(arenahard(str(path)))
