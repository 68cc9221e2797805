"""--rubric NAME and --resample N (issue 22 item 1), as a user meets them: the bundled
rubric in the prompt, clear errors for a wrong name or a template without {rubric}, and
re-sampling through a loopback API judge with every attempt kept and cached (the published
prometheus-eval's own behaviour is compared in test_originals_installed.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl
from fault_server import FaultServer

RUBRICS = Path(__file__).parents[1] / "prompts" / "rubrics"


def test_rubric_by_name_in_the_prompt(tmp_path: Path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "question": "Q", "answer": "R"},
        {"id": 2, "question": "Q", "answer": "R", "rubric": "honesty"},  # overridden
    ])
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(src), "-t",
                             "prometheus-absolute", "--rubric", "factual_validity", "--dry-run")
    assert code == 0, err
    rubric = (RUBRICS / "prometheus-factual-validity.txt").read_text(encoding="utf-8")
    for line in out.splitlines():
        shown = json.loads(line)
        assert shown["template"] == "prometheus-absolute[factual_validity]"
        assert shown["messages"][1]["content"].endswith(
            f"###Score Rubrics:\n{rubric}\n\n###Feedback: ")
    # Two answers: the rubric's first line, as prometheus-eval's load_rubric gives it.
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"question": "Q", "answer_a": "a",
                                                    "answer_b": "b", "rubric": "reasoning"}])
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "-t",
                             "prometheus-relative", "--no-swap", "--dry-run")
    assert code == 0, err
    first = (RUBRICS / "prometheus-reasoning.txt").read_text(encoding="utf-8").split("\n")[0]
    assert json.loads(out)["messages"][1]["content"].endswith(
        f"###Score Rubric:\n{first}\n\n###Feedback: ")


@pytest.mark.parametrize("args, message", [
    (["-t", "prometheus-absolute", "--rubric", "helpfulnes"],
     "--rubric 'helpfulnes' names no bundled rubric; bundled: factual_validity, "),
    (["-t", "mtbench-single", "--rubric", "helpfulness"],
     "--rubric: template 'mtbench-single' shows no {rubric}"),
    (["-t", "prometheus-absolute"],
     "in.jsonl:1: field 'rubric': missing; template 'prometheus-absolute' needs it (or give "
     "--rubric NAME)"),
])
def test_rubric_errors_are_one_line(tmp_path: Path, monkeypatch, capsys, args, message) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": "Q", "answer": "R"}])
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), *args, "--dry-run")
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_resample_needs_a_sampling_judge(tmp_path: Path, monkeypatch, capsys,
                                         tiny_judge: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"question": "Q", "answer": "R", "rubric": "r"}])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    for judge in (["openai:gpt-4o", "--base-url", "http://127.0.0.1:9/v1"],  # temperature 0
                  [str(tiny_judge)]):  # greedy local decoding
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge", *judge,
                               "-t", "prometheus-absolute", "--resample", "2", "-o",
                               str(tmp_path / "o.jsonl"))
        assert code == 2 and "--temperature above 0" in err
        assert ("does not sample" if judge[0].startswith("openai") else "decodes greedily") in err
        assert len(err.strip().splitlines()) == 1  # one line, before any model loads
    assert not (tmp_path / "o.jsonl").exists()


def test_resample_keeps_every_attempt_and_resume_asks_none_again(
        tmp_path: Path, monkeypatch, capsys) -> None:
    scripts = {"0": ["nothing", "still [RESULT] 4 nothing", "So: [RESULT] 4"],
               "1": ["never parses"], "2": ["[RESULT] 2"]}
    asked: dict[str, int] = {}

    def reply(prompt: str) -> str:
        tag = re.search(r"ITEM-(\w+)", prompt).group(1)
        asked[tag] = asked.get(tag, 0) + 1
        return scripts[tag][min(asked[tag], len(scripts[tag])) - 1]

    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": int(t), "question": f"ITEM-{t} q", "answer": "a", "rubric": "[r]"}
        for t in scripts])
    out = tmp_path / "o.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("JUDGECLI_CACHE_DIR", str(tmp_path / "cache"))
    with FaultServer(reply=reply) as server:
        base = ["judge", str(src), "--judge", "openai:gpt-4o", "--base-url", server.url,
                "-t", "prometheus-absolute", "--temperature", "0.7", "--resample", "3", "-q",
                "-o", str(out)]
        code, _, err = run_cli(monkeypatch, capsys, *base)
        assert code == 0, err
        assert asked == {"0": 3, "1": 4, "2": 1} and server.total == 8
        records = {r["id"]: r["judgment"] for r in read_jsonl(out)}
        assert records[0]["score"] == 4 and records[0]["error"] is None
        assert [a["text"] for a in records[0]["orders"][0]["attempts"]] == scripts["0"]
        assert [a["error"] is None for a in records[0]["orders"][0]["attempts"]] == \
            [False, False, True]
        assert records[1]["score"] is None and records[1]["error"] == (
            "unparseable: the judgment does not match the template's output pattern: expected "
            "an integer 1-5 after [RESULT] (or [SCORE], Score:, Result:, score of) at the very "
            "end of the reply, as prometheus-eval 0.1.20 reads it")
        assert len(records[1]["orders"][0]["attempts"]) == 4  # the first asking and 3 more
        assert records[2]["orders"][0]["attempts"] == [{"text": "[RESULT] 2", "error": None}]
        # Each attempt is paid for and counted (the same prompt asked 4 times, and once).
        assert records[1]["usage"]["prompt_tokens"] == 4 * records[2]["usage"]["prompt_tokens"]
        code, _, err = run_cli(monkeypatch, capsys, *base, "--resume", "--retry-errors")
        assert code == 1 and "4 answered from the cache" in err  # it fails as before
        assert server.total == 8  # every attempt came from the cache


def test_a_data_parsers_expects_must_be_words() -> None:
    from judgecli.parsers.specs import SpecError, encode

    with pytest.raises(SpecError, match="'output.parser.expects' must be a string"):
        encode({"regex": "(x)", "kind": "score", "number": "int", "expects": 5})
