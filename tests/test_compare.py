"""`judgecli compare`: joins across layouts, and the summary against independent figures."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import write_jsonl
from scipy.stats import binomtest

from judgecli import JudgeOptions, load_template
from judgecli.backends.base import Completion, Judge, Request
from judgecli.cli.commands import main
from judgecli.compare import CompareOptions, JoinError, build_pairs, compare
from judgecli.errors import InputError


def answers(model: str, n: int, *, wrong: set[int] = frozenset(), **extra) -> list[dict]:
    return [{"id": i, "question": f"What is {i} + {i}?", "answer": str(2 * i + (i in wrong)),
             "reference": str(2 * i), "model": model, **extra} for i in range(n)]


class ReferenceJudge(Judge):
    """Scores 9 the answer that equals the reference, 3 the other (JudgeLM's score line)."""

    name = "reference-judge"

    def complete(self, requests: list[Request]) -> list[Completion]:
        out = []
        for r in requests:
            text = r.prompt.text or ""
            ref = re.search(r"\[Reference Answer\]\n(.*?)\n\n", text).group(1)
            one = re.search(r"Assistant 1's Answer\]\n(.*?)\n\n", text).group(1)
            two = re.search(r"Assistant 2's Answer\]\n(.*?)\n\n", text).group(1)
            out.append(Completion(text=f"{9 if one == ref else 3} {9 if two == ref else 3}\n"))
        return out


def test_layouts_are_recognised(tmp_path) -> None:
    ours = write_jsonl(tmp_path / "ours.jsonl", [{"id": 1, "question": "q", "answer": "a"}])
    judgelm = write_jsonl(tmp_path / "jl.jsonl", [
        {"question_id": 1, "question_body": "q", "text": "b", "model": "vicuna"}])
    fastchat = write_jsonl(tmp_path / "fc.jsonl", [
        {"question_id": 1, "model_id": "gpt-4", "choices": [{"index": 0, "turns": ["c", "x"]}]}])
    questions = write_jsonl(tmp_path / "question.jsonl", [
        {"question_id": 1, "category": "math", "turns": ["q", "q2"]}])
    pairs = build_pairs([str(ours), str(judgelm), str(fastchat)], questions=str(questions))
    assert pairs.models == ["ours", "vicuna", "gpt-4"]
    first = pairs.records[0]
    assert (first["question"], first["answer_a"], first["answer_b"]) == ("q", "a", "b")
    assert {(r["model_a"], r["model_b"]) for r in pairs.records} == \
        {("ours", "vicuna"), ("ours", "gpt-4"), ("vicuna", "gpt-4")}
    assert all(r["category"] == "math" for r in pairs.records)
    alpaca = tmp_path / "model_outputs.json"
    alpaca.write_text(json.dumps([{"instruction": "q", "output": "d", "generator": "alpaca"}]))
    alpaca2 = tmp_path / "ref_outputs.json"
    alpaca2.write_text(json.dumps([{"instruction": "q", "output": "e", "generator": "davinci"}]))
    pairs = build_pairs([str(alpaca), str(alpaca2)])  # no ids: joined by instruction text
    assert pairs.models == ["alpaca", "davinci"] and pairs.records[0]["answer_b"] == "e"
    # JudgeLM-layout answers naming their model in model_id (as the README says is read).
    judgelm_id = write_jsonl(tmp_path / "answers-x.jsonl", [
        {"question_id": 1, "question_body": "q", "text": "b", "model_id": "llama-13b"}])
    pairs = build_pairs([str(ours), str(judgelm_id)])
    assert pairs.models == ["ours", "llama-13b"]


def test_missing_prompts_are_a_clear_error(tmp_path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", answers("a", 5))
    b = write_jsonl(tmp_path / "b.jsonl", answers("b", 3))
    with pytest.raises(JoinError, match=r"2 prompt\(s\) are not in every file: .*b.jsonl lacks "
                                        r"2 \(e.g. 3, 4\).*--allow-missing"):
        build_pairs([str(a), str(b)])
    pairs = build_pairs([str(a), str(b)], allow_missing=True)
    assert pairs.n_prompts == 3


def test_duplicate_ids_different_questions_and_empty_files(tmp_path) -> None:
    rows = answers("a", 3)
    dup = write_jsonl(tmp_path / "dup.jsonl", rows + [rows[1]])
    b = write_jsonl(tmp_path / "b.jsonl", answers("b", 3))
    with pytest.raises(JoinError, match=r"dup.jsonl: 1 duplicate id\(s\), e.g. 1"):
        build_pairs([str(dup), str(b)])
    other = answers("c", 3)
    other[2]["question"] = "Something else?"
    c = write_jsonl(tmp_path / "c.jsonl", other)
    with pytest.raises(JoinError, match=r"1 joined prompt\(s\) have different questions.*2"):
        build_pairs([str(b), str(c)])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(JoinError, match="empty.jsonl: no answers"):
        build_pairs([str(empty), str(b)])
    with pytest.raises(JoinError, match="at least two"):
        build_pairs([str(b)])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": 1, "question": "q", "answer": 3}])
    with pytest.raises(InputError, match="bad.jsonl:1: field 'answer'"):
        build_pairs([str(bad), str(b)])


def test_summary_matches_an_independent_count(tmp_path) -> None:
    n = 40
    a = write_jsonl(tmp_path / "a.jsonl", answers("model-a", n, wrong=set(range(0, n, 2)),
                                                  category="arith"))
    b = write_jsonl(tmp_path / "b.jsonl", answers("model-b", n, wrong={1, 3, 5}))
    out = tmp_path / "judged.jsonl"
    options = CompareOptions(judge=JudgeOptions(template=load_template("judgelm-pair-ref")),
                             output=str(out), progress=False)
    result = compare(build_pairs([str(a), str(b)]), ReferenceJudge(), options)
    pair = result.pairs[0]
    # B wins where only A is wrong; loses where only B is wrong; else a tie.
    a_wrong, b_wrong = set(range(0, n, 2)), {1, 3, 5}
    wins, losses = len(a_wrong - b_wrong), len(b_wrong - a_wrong)
    ties = n - wins - losses
    assert (pair["wins"], pair["ties"], pair["losses"]) == (wins, ties, losses)
    assert pair["win_rate"] == pytest.approx((wins + ties / 2) / n)
    assert pair["sign_test_p"] == pytest.approx(binomtest(wins, wins + losses).pvalue)
    assert pair["significant"] is True and pair["consistency"] == 1.0
    low, high = pair["win_rate_ci"]
    assert low < pair["win_rate"] < high
    assert pair["categories"][0]["category"] == "arith"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["model_a"] for r in records} == {"model-a"} and len(records) == n
    assert all({"question", "answer_a", "answer_b", "model_a", "model_b"} <= set(r)
               for r in records)


def test_three_models_are_ranked(tmp_path) -> None:
    n = 30
    files = [write_jsonl(tmp_path / f"{m}.jsonl", answers(m, n, wrong=w)) for m, w in (
        ("bad", set(range(0, n))), ("mid", set(range(0, n, 2))), ("good", {0, 1}))]
    options = CompareOptions(judge=JudgeOptions(template=load_template("judgelm-pair-ref")),
                             progress=False)
    result = compare(build_pairs([str(f) for f in files]), ReferenceJudge(), options)
    assert [r["model"] for r in result.ranking] == ["good", "mid", "bad"]
    assert len(result.pairs) == 3
    for row in result.ranking:
        assert row["rating_ci"][0] <= row["rating"] <= row["rating_ci"][1]


def test_compare_cli_errors_are_one_line(tmp_path, monkeypatch, capsys) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", answers("a", 2))
    b = write_jsonl(tmp_path / "b.jsonl", answers("b", 1))
    monkeypatch.setattr(sys, "argv", ["judgecli", "compare", str(a), str(b), "--judge", "x"])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 2 and "not in every file" in err
    assert len(err.strip().splitlines()) == 1
