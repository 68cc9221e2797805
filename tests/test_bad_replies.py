"""No reply can stop a run (issue 14): a reply the parser, the logprob reader or the combining
of orders cannot read becomes that judgment's error; the judgments around it are written, in
input order, and --resume over a reply cache that holds the bad reply works.

The API judge talks to a loopback server (tests/fault_server.py) through the OpenAI client;
nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer, judge_reply

from judgecli import load_template
from judgecli.backends.openai import judge as openai_api
from judgecli.backends.base import Completion, Judge, Request
from judgecli.backends.openai.judge import OpenAIJudge
from judgecli.judging.runner import JudgeOptions, Judging, judge_file

KEY = "sk-test-" + uuid.uuid4().hex
FAST = dict(api_key=KEY, retries=0, timeout=5.0, cache=False)
_TAG = re.compile(r"ITEM-(\w+)")

# What the judge writes for each item (mtbench-single), and what a run must record: the
# rating, or None and an error that names the bad rating.
REPLIES = {
    "a": ("Helpful and correct. Rating: [[3]]", 3.0),
    "zero": ("It fails the question. Rating: [[08]]", None),  # "08": literal_eval's SyntaxError
    "arabic": ("Good. Rating: [[٨]]", None),  # \d matches U+0668, literal_eval does not
    "big": ("Rating: [[" + "9" * 400 + "]]", None),  # float() of it: OverflowError
    "huge": ("Rating: [[" + "9" * 5000 + "]]", None),  # over Python's 4,300-digit limit
    "e": ("Thorough. Rating: [[10.]]", 10.0),  # FastChat reads "10." as 10.0
    "wide": ("Rating: [[８]]", None),  # a full-width 8
    "f": ("Rating: [[7.5]]", 7.5),
    "flaky": ("Rating: [[6]]", 6.0),
}
SHOWN = {"zero": "'08'", "arabic": "'٨'", "big": "'999999999999... (400 chars)'",
         "huge": "'999999999999... (5000 chars)'", "wide": "'８'"}


def rating_reply(prompt: str) -> str:
    return REPLIES[_TAG.search(prompt).group(1)][0]  # type: ignore[union-attr]


def singles(*tags: str) -> list[dict[str, str]]:
    return [{"id": tag, "question": f"What is 2 + 2? ITEM-{tag}", "answer": "4"}
            for tag in tags]


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY=KEY, JUDGECLI_CACHE_DIR=str(tmp / "cache"))
    return subprocess.run([sys.executable, "-m", "judgecli", "judge", *args], cwd=tmp,
                          capture_output=True, text=True, env=env, timeout=120)


def check_records(out: list[dict], tags: list[str], *, down: tuple[str, ...] = ()) -> None:
    """Each item's rating or the error naming its bad rating (``down``: HTTP errors)."""
    by_id = {r["id"]: r["judgment"] for r in out}
    assert sorted(by_id) == sorted(tags) and len(out) == len(tags)
    for tag in tags:
        judgment, want = by_id[tag], REPLIES[tag][1]
        if tag in down:
            assert judgment["score"] is None and "HTTP 500" in judgment["error"]
            continue
        assert judgment["score"] == want, tag
        if want is None:
            assert judgment["error"].startswith("unparseable: the rating "), judgment["error"]
            assert SHOWN[tag] in judgment["error"], judgment["error"]
            assert "\n" not in judgment["error"]
            assert judgment["orders"][0]["text"] == REPLIES[tag][0]  # the reply is kept
        else:
            assert judgment["error"] is None, tag


def test_a_bad_rating_is_its_judgments_error_and_resume_works(tmp_path: Path) -> None:
    tags = list(REPLIES)
    write_jsonl(tmp_path / "in.jsonl", singles(*tags))
    common = ["in.jsonl", "--judge", "openai:gpt-4o", "--template", "mtbench-single",
              "--retries", "0", "-o", "out.jsonl"]
    bad = [t for t in tags if REPLIES[t][1] is None]
    # "flaky" fails once with HTTP 500 (not cached), so that --retry-errors judges one item
    # well besides the bad ones.
    with FaultServer(reply=rating_reply, script={"flaky": ["500"]}) as server:
        first = cli(tmp_path, *common, "--base-url", server.url)
        # README "Exit codes": 0 when the run is done and some judgments failed; they are
        # counted on the summary line and kept in the output for --retry-errors.
        assert first.returncode == 0, first.stderr
        assert "Traceback" not in first.stderr
        assert f"judged {len(tags)}; errors {len(bad) + 1};" in first.stderr
        out = read_jsonl(tmp_path / "out.jsonl")
        assert [r["id"] for r in out] == tags  # every item, once, in input order
        check_records(out, tags, down=("flaky",))
        sent = server.total
        assert sent == len(tags)

        # --resume: everything is done, failed judgments included; nothing is asked again.
        again = cli(tmp_path, *common, "--base-url", server.url, "--resume")
        assert again.returncode == 0, again.stderr
        assert f"already done {len(tags)}" in again.stderr and server.total == sent
        assert read_jsonl(tmp_path / "out.jsonl") == out

        # --retry-errors judges the failed items again. The bad replies come from the cache
        # and fail again, without a crash; "flaky" is asked again and judged.
        retried = cli(tmp_path, *common, "--base-url", server.url, "--resume",
                      "--retry-errors")
        assert retried.returncode == 0, retried.stderr
        assert "Traceback" not in retried.stderr
        assert f"judged {len(bad) + 1}; errors {len(bad)};" in retried.stderr
        assert f"already done {len(tags) - len(bad) - 1}" in retried.stderr
        assert f"{len(bad)} answered from the cache" in retried.stderr
        assert server.total == sent + 1
    check_records(read_jsonl(tmp_path / "out.jsonl"), tags)


def pairs(*tags: str) -> list[dict[str, str]]:
    return [{"id": tag, "question": f"Which? ITEM-{tag}", "answer_a": "x", "answer_b": "y"}
            for tag in tags]


def _prompt_text(request: Request) -> str:
    prompt = request.prompt
    return prompt.text if prompt.text is not None else \
        "\n".join(m["content"] for m in prompt.messages or ())


def test_an_unreadable_distribution_is_that_orders_error(tmp_path: Path) -> None:
    class Odd(Judge):
        """Writes "[[A]]" with, for the item tagged "odd", a distribution over a value no
        template allows ("Z"), which confidence.verdict_probs cannot map (a KeyError)."""

        name = "odd"

        def complete(self, requests: list[Request]) -> list[Completion]:
            return [Completion(text="Assistant A is better. [[A]]",
                               slot_probs=({"Z": 1.0},) if "ITEM-odd" in _prompt_text(r)
                               else ({"A": 0.75, "B": 0.25, "C": 0.0},))
                    for r in requests]

    judging = Judging(Odd(), JudgeOptions(template=load_template("mtbench-pair"), swap=False))
    items = list(_items(tmp_path, pairs("a", "odd", "b")))
    records = judging.judge_items(items)
    assert [r["id"] for r in records] == ["a", "odd", "b"]
    odd = records[1]["judgment"]
    assert odd["verdict"] is None
    assert odd["error"] == "AB: could not read the reply: KeyError: 'Z'"
    for record in (records[0], records[2]):
        assert record["judgment"]["verdict"] == "A" and record["judgment"]["error"] is None
        assert record["judgment"]["confidence"] == pytest.approx(0.75)


def test_a_failure_while_combining_the_orders_is_the_judgments_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from judgecli.judging import core as judging_module

    real = judging_module.indicators

    def indicators(results, completions, verdict):  # type: ignore[no-untyped-def]
        if "ITEM-odd" in (completions[0].text or ""):
            raise ArithmeticError("math domain\nerror")
        return real(results, completions, verdict)

    class Echo(Judge):
        name = "echo"

        def complete(self, requests: list[Request]) -> list[Completion]:
            return [Completion(text=f"{_TAG.search(_prompt_text(r)).group(0)}: [[B]]")  # type: ignore[union-attr]
                    for r in requests]

    monkeypatch.setattr(judging_module, "indicators", indicators)
    judging = Judging(Echo(), JudgeOptions(template=load_template("mtbench-pair")))
    records = judging.judge_items(list(_items(tmp_path, pairs("a", "odd"))))
    good, odd = (r["judgment"] for r in records)
    assert good["error"] is None and good["consistent"] is False  # B in both orders: A, then B
    reason = "could not read the replies: ArithmeticError: math domain error"
    assert odd["error"] == f"AB: {reason}; BA: {reason}"
    assert odd["verdict"] is None and odd["score_a"] is None and odd["confidence"] is None
    assert "indicators" not in odd
    assert [o["error"] for o in odd["orders"]] == [reason, reason]


def test_a_logprob_reader_failure_is_that_items_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = openai_api.slot_probs

    def slot_probs(tokens, text, parser, values):  # type: ignore[no-untyped-def]
        if "[[B]]" in text:
            raise RuntimeError("a bug in the reader")
        return real(tokens, text, parser, values)

    monkeypatch.setattr(openai_api, "slot_probs", slot_probs)
    # judge_reply: the answer marked GOOD wins; item "b" shows it second, so its reply is [[B]].
    rows = [{"id": "a", "question": "Q ITEM-a", "answer_a": "GOOD", "answer_b": "BAD"},
            {"id": "b", "question": "Q ITEM-b", "answer_a": "BAD", "answer_b": "GOOD"},
            {"id": "c", "question": "Q ITEM-c", "answer_a": "GOOD", "answer_b": "BAD"}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    with FaultServer(reply=judge_reply) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, **FAST)  # type: ignore[arg-type]
        try:
            summary = judge_file(str(source), str(tmp_path / "out.jsonl"), judge,
                                 JudgeOptions(template=load_template("mtbench-pair"),
                                              swap=False), progress=False)
        finally:
            judge.close()
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == ["a", "b", "c"] and summary.errors == 1
    assert out[1]["judgment"]["error"] == \
        "AB: could not read the reply's logprobs: RuntimeError: a bug in the reader"
    for record in (out[0], out[2]):
        assert record["judgment"]["verdict"] == "A" and record["judgment"]["error"] is None
        assert record["judgment"]["confidence"] == pytest.approx(0.8 / 0.95)


def _items(tmp: Path, rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    from judgecli.io.records import read_items

    return read_items(str(write_jsonl(tmp / "items.jsonl", rows)))
