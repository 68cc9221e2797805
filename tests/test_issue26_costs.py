"""Issue 26 items 5-7: whose cost each cost line is, prompts too long for the judge's context
window, and the replies that come while Ctrl-C stops a run.

* Item 5: a panel's or a review's cost lines name their judge, and a total line sums them.
* Item 6: a prompt that cannot fit the context window (known OpenAI models; a local judge's
  ``max_position_embeddings``) with what the judge may write is not sent: its judgment's
  error names the length; ``--dry-run`` counts them; ``--truncate`` cuts the answers (only
  them) to the most characters that fit and marks the judgment ``truncated``.
* Item 7: a reply whose head is in when Ctrl-C comes is read whole, metered and cached, so
  that the cost line counts every reply the server sent and ``--resume`` asks for none of
  them again. The signal is a real SIGINT sent to a real ``judgecli judge`` process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import read_jsonl, run_cli, write_jsonl
from fault_server import FaultServer
from test_ctrl_c import _wait_for

from judgecli.backends.base import Completion, Judge, Request
from judgecli.backends.openai.judge import OpenAIJudge
from judgecli.io.records import Item
from judgecli.judging.runner import JudgeOptions, Judging, judge_file
from judgecli.templates import load_template

COST = re.compile(r"^(\S+): tokens: ([\d,]+) prompt \+ ([\d,]+) completion in ([\d,]+) "
                  r"request\(s\).*?; cost \$([\d.]+)", re.M)
TOTAL = re.compile(r"^total: ([\d,]+) prompt \+ ([\d,]+) completion tokens in ([\d,]+) "
                   r"request\(s\); cost \$([\d.]+)(.*)$", re.M)
INTERRUPTED = re.compile(r"judgecli: interrupted; (\d+) written; finish with --resume")
LONG = "GOOD " * 20_000  # 100,000 characters: ~25,000 tokens, over gpt-4's 8,192


def pair(i: Any, answer_a: str = "GOOD", answer_b: str = "BAD") -> dict[str, Any]:
    return {"id": i, "question": f"ITEM-{i} What is {i} + 1?", "answer_a": answer_a,
            "answer_b": answer_b}


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An API run in ``tmp_path``, with a key and its own cache."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "JUDGECLI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("JUDGECLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def number(text: str) -> int:
    return int(text.replace(",", ""))


# -- item 5: whose cost ----------------------------------------------------------------------
def test_a_panels_cost_lines_name_their_judge_and_a_total_sums_them(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(i) for i in range(3)])
    with FaultServer() as server:
        code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4o",
                               "-j", "openai:gpt-4o-mini", "-j", "openai:judge-x",
                               "--base-url", server.url, "-t", "mtbench-pair", "-q",
                               "-o", "out.jsonl", "--price-in", "1", "--price-out", "2")
        served = sum(server.served.values())
    assert code == 0, err
    lines = {name: (number(p), number(c), number(n), float(cost))
             for name, p, c, n, cost in COST.findall(err)}
    # One line per judge, named (--price-in/--price-out price all three alike here).
    assert set(lines) == {"openai:gpt-4o", "openai:gpt-4o-mini", "openai:judge-x"}, err
    total = TOTAL.search(err)
    assert total is not None, err
    assert [number(total.group(k)) for k in (1, 2, 3)] == \
        [sum(line[k] for line in lines.values()) for k in range(3)]
    assert number(total.group(3)) == served == 3 * 2 * 3  # 3 judges, 3 items, both orders
    assert abs(float(total.group(4)) - sum(line[3] for line in lines.values())) < 2e-4


def test_a_judge_whose_price_is_unknown_leaves_the_total_dollars_open(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(0)])
    with FaultServer() as server:
        code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4o",
                               "-j", "openai:judge-x", "--base-url", server.url,
                               "-t", "mtbench-pair", "-q", "-o", "out.jsonl")
    assert code == 0, err
    assert re.search(r"^openai:judge-x: tokens: .*cost unknown", err, re.M), err
    total = TOTAL.search(err)
    assert total is not None and "+ unknown (openai:judge-x: no price)" in total.group(5), err
    gpt4o = next(cost for name, *_, cost in COST.findall(err) if name == "openai:gpt-4o")
    assert total.group(4) == gpt4o  # only the known price is summed


def test_one_judge_has_one_cost_line_named_and_no_total(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(0), pair(1)])
    with FaultServer() as server:
        code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4o",
                               "--base-url", server.url, "-t", "mtbench-pair", "-q",
                               "-o", "out.jsonl")
    assert code == 0, err
    assert [name for name, *_ in COST.findall(err)] == ["openai:gpt-4o"], err
    assert "tokens:" not in err.replace("openai:gpt-4o: tokens:", "") and "total:" not in err


# -- item 6: the context window ---------------------------------------------------------------
def test_an_api_prompt_too_long_for_the_window_is_not_sent_and_its_error_says_why(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(0), pair("long", LONG), pair(2)])
    with FaultServer() as server:
        code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4",
                               "--base-url", server.url, "-t", "mtbench-pair", "-q",
                               "-o", "out.jsonl")
        asked = {tag for _, tag, _, _ in server.log}
    assert code == 0, err
    assert asked == {"0", "2"}  # the long item was never sent
    records = {r["id"]: r["judgment"] for r in read_jsonl(api_env / "out.jsonl")}
    assert records[0]["error"] is None and records[2]["error"] is None
    error = records["long"]["error"]
    assert error is not None and "prompt too long: ~25," in error, error
    assert "8,192 tokens" in error and "openai:gpt-4" in error and "--truncate" in error
    assert "2 prompt(s) too long for the context window, not sent" in err  # both orders


def test_dry_run_counts_the_prompts_that_cannot_fit(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(0), pair("long", LONG)])
    code, out, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4",
                             "-t", "mtbench-pair", "--dry-run")
    assert code == 0, err
    assert len(out.splitlines()) == 4  # every prompt is still shown
    note = re.search(r"^judgecli: openai:gpt-4: (\d+) prompt\(s\) do not fit its context "
                     r"window of 8,192 tokens.*~([\d,]+) tokens.*will not be sent", err, re.M)
    assert note is not None, err
    assert note.group(1) == "2" and number(note.group(2)) > 25_000


def test_truncate_cuts_only_the_answers_to_the_most_that_fit() -> None:
    from judgecli.judging.fit import Fit, cut

    judge = OpenAIJudge("gpt-4", base_url="http://127.0.0.1:9/v1")
    try:
        judge.truncate = True
        template = load_template("mtbench-pair")
        item = Item(id=0, line=1, kind="pair", question="ITEM-0 What is 1 + 1?", record={},
                    answer_a=LONG, answer_b="BAD")
        whole = [Request(prompt=template.render(item, order), max_new_tokens=512)
                 for order in ("AB", "BA")]
        assert judge.refusal(whole[0]) is not None
        fitted = Fit(judge).requests(template, item, ("AB", "BA"), None, whole)
        assert all(judge.refusal(r) is None for r in fitted)
        user = fitted[0].prompt.messages[1]["content"]  # type: ignore[index]
        shown = re.search(r"Assistant A's Answer\]\n(.*)\n\[The End of Assistant A", user,
                          re.S).group(1)  # type: ignore[union-attr]
        assert LONG.startswith(shown) and 0 < len(shown) < len(LONG)
        assert "ITEM-0 What is 1 + 1?" in user and "Answer]\nBAD\n" in user  # left whole
        # Both orders show the same cut, and one character more does not fit.
        assert shown in fitted[1].prompt.messages[1]["content"]  # type: ignore[index]
        more = cut(item, len(shown) + 1)
        assert any(judge.refusal(Request(prompt=template.render(more, order),
                                         max_new_tokens=512)) for order in ("AB", "BA"))
    finally:
        judge.close()


def _core_fits() -> bool:
    """Whether judging.core hands its requests to judging.fit (the --truncate hook)."""
    judging = Judging(_Stub(), JudgeOptions(template=load_template("mtbench-pair")))
    return hasattr(judging, "fit")


class _Stub(Judge):
    name = "stub"

    def complete(self, requests: Any) -> list[Completion]:
        return [Completion(text="[[A]]") for _ in requests]


needs_core_hook = pytest.mark.skipif(
    not _core_fits(), reason="judging/core.py does not call judging/fit.py yet (issue 26 "
                             "item 6: the two lines that hand Judging's requests to Fit)")


@needs_core_hook
def test_truncate_sends_the_cut_prompt_and_marks_the_judgment(
        api_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(api_env / "in.jsonl", [pair(0), pair("long", LONG)])
    with FaultServer() as server:
        # A panel: gpt-4 (8,192 tokens) needs the cut, gpt-4.1 (~1M tokens) does not.
        code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-j", "openai:gpt-4",
                               "-j", "openai:gpt-4.1", "--base-url", server.url,
                               "-t", "mtbench-pair", "-q", "--truncate", "-o", "out.jsonl")
        asked = [tag for _, tag, _, _ in server.log]
    assert code == 0, err
    assert sorted(asked) == ["0"] * 4 + ["long"] * 4
    records = {r["id"]: r["judgment"] for r in read_jsonl(api_env / "out.jsonl")}
    assert records["long"]["truncated"] is True and "truncated" not in records[0]
    cut, whole = records["long"]["panel"]
    assert cut["judge"] == "openai:gpt-4" and cut["truncated"] is True
    assert cut["error"] is None and cut["verdict"] == "A"  # the cut answer is still GOOD
    assert "truncated" not in whole and whole["verdict"] == "A"
    prompt = cut["usage"]["prompt_tokens"] // 2  # the server's count, per order
    assert prompt + 512 <= 8_192 < whole["usage"]["prompt_tokens"] // 2


# -- item 6 on a local judge: its max_position_embeddings ------------------------------------
@pytest.fixture(scope="module")
def short_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny judge trained on 1,024 positions (a short prompt of judgelm-pair is ~480)."""
    from tiny_judge import save_tiny_judge

    return save_tiny_judge(tmp_path_factory.mktemp("judges") / "short", max_positions=1024)


LOCAL = JudgeOptions(template=load_template("judgelm-pair"), mode="explain", max_new_tokens=16)


def _local_items(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [
        pair(0, "2", "3"), pair("long", "one plus two is three. " * 400, "3")])


def test_a_local_prompt_longer_than_max_position_embeddings_is_not_run(
        tmp_path: Path, short_judge: Path) -> None:
    from judgecli.backends import load_judge

    judge = load_judge(str(short_judge))
    try:
        judge_file(str(_local_items(tmp_path)), str(tmp_path / "out.jsonl"), judge, LOCAL,
                   progress=False)
    finally:
        judge.close()
    records = {r["id"]: r["judgment"] for r in read_jsonl(tmp_path / "out.jsonl")}
    error = records["long"]["error"] or ""
    found = re.search(r"prompt too long: ([\d,]+) tokens \+ 16 to write \(--max-new-tokens\) "
                      r"exceed the context window of .*, 1,024 tokens "
                      r"\(max_position_embeddings\)", error)
    assert found is not None, error
    assert number(found.group(1)) + 16 > 1024
    assert "usage" not in records["long"]  # nothing was run
    assert not (records[0]["error"] or "").startswith("prompt too long")
    assert records[0]["usage"]["prompt_tokens"] // 2 + 16 <= 1024


@needs_core_hook
def test_truncate_fits_a_local_prompt_to_max_position_embeddings(
        tmp_path: Path, short_judge: Path) -> None:
    from judgecli.backends import load_judge

    judge = load_judge(str(short_judge))
    judge.truncate = True
    try:
        judge_file(str(_local_items(tmp_path)), str(tmp_path / "out.jsonl"), judge, LOCAL,
                   progress=False)
    finally:
        judge.close()
    long = {r["id"]: r["judgment"] for r in read_jsonl(tmp_path / "out.jsonl")}["long"]
    assert long["truncated"] is True
    assert not (long["error"] or "").startswith("prompt too long")
    # Exact: each order's prompt and its 16 new tokens fill at most the 1,024 positions.
    assert long["usage"]["prompt_tokens"] // 2 + 16 <= 1024


# -- item 7: replies that come while Ctrl-C stops the run -------------------------------------
class HalfReplies(FaultServer):
    """Sends ``whole`` replies, then the head and half the body of each later one, the
    rest only after ``finish_replies()``: replies paid for and on their way when the client
    is interrupted."""

    def __init__(self, whole: int, **options: Any) -> None:
        super().__init__(**options)
        self.whole, self.halves = whole, 0
        self._finished = False
        self._rest: asyncio.Event | None = None

    def finish_replies(self) -> None:
        self._finished = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._open)

    def _open(self) -> None:
        if self._rest is not None:
            self._rest.set()

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: Any,
                    headers: dict[str, str] | None = None) -> None:
        if status != 200 or self._finished or sum(self.served.values()) <= self.whole:
            return await super()._send(writer, status, body, headers)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\n{extra}\r\n").encode()
        writer.write(head + data[:len(data) // 2])
        await writer.drain()
        self.halves += 1
        if self._rest is None:
            self._rest = asyncio.Event()
        if not self._finished:
            await self._rest.wait()
        writer.write(data[len(data) // 2:])
        await writer.drain()


# `judgecli judge`, writing to a log as each reply's head comes in (the HTTP client has read
# it) and as the judge's loop begins to cancel its tasks: the test interrupts the run once
# the replies on their way have reached the client, and lets their bodies go on only once
# the run is being cancelled, however fast the machine.
_HOOKED = """
import sys
log = sys.argv.pop(1)
def note(word):
    with open(log, "a") as out:
        out.write(word + "\\n")
import httpx2
sent = httpx2.AsyncClient._send_single_request
async def _send_single_request(self, request):
    response = await sent(self, request)
    note("head")
    return response
httpx2.AsyncClient._send_single_request = _send_single_request
import judgecli.backends.openai.judge as api
cancel = api._cancel_tasks
async def _cancel_tasks(*args):
    note("stop")
    await cancel(*args)
api._cancel_tasks = _cancel_tasks
from judgecli.cli.commands import main
sys.argv[0] = "judgecli"
main()
"""


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JUDGECLI_"))}
    env.update(OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp / "cache"),
               OMP_NUM_THREADS="1")
    return env


def test_replies_on_their_way_at_ctrl_c_are_counted_and_kept(tmp_path: Path) -> None:
    n, whole, concurrency = 20, 12, 4
    write_jsonl(tmp_path / "in.jsonl", [pair(i) for i in range(n)])
    out, log = tmp_path / "out.jsonl", tmp_path / "events.log"

    def events(word: str) -> int:
        return log.read_text().split().count(word) if log.exists() else 0

    with HalfReplies(whole) as server:
        command = ["judge", "in.jsonl", "--judge", "openai:gpt-4o", "--base-url", server.url,
                   "-t", "mtbench-pair", "-q", "--concurrency", str(concurrency), "-o",
                   str(out)]
        proc = subprocess.Popen([sys.executable, "-c", _HOOKED, str(log), *command],
                                cwd=tmp_path, env=_env(tmp_path), stderr=subprocess.PIPE,
                                text=True)
        # Every request in flight has half its reply, and the client has read its head.
        _wait_for(proc, lambda: server.halves == concurrency and
                  events("head") == whole + concurrency)
        proc.send_signal(signal.SIGINT)
        _wait_for(proc, lambda: events("stop") >= 1)  # the run's tasks are being cancelled
        server.finish_replies()
        err = proc.communicate(timeout=60)[1]
        served = dict(server.served)
        resumed = subprocess.run([sys.executable, "-m", "judgecli", *command, "--resume"],
                                 cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                                 text=True, timeout=120)
        attempts = dict(server.attempts)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Task was destroyed" not in err
    assert sum(served.values()) == whole + concurrency
    # The cost line counts every reply the server sent, those on their way included.
    metered = re.search(r"tokens: .* in ([\d,]+) request\(s\)", err)
    assert metered is not None, err
    assert number(metered.group(1)) == sum(served.values()), err
    # They were kept: written where their item was complete, and cached.
    said = INTERRUPTED.search(err)
    assert said is not None, err
    assert int(said.group(1)) == (whole + concurrency) // 2
    assert resumed.returncode == 0, resumed.stderr
    # --resume asked for no reply the server had sent: every prompt was sent once.
    assert len(attempts) == 2 * n and set(attempts.values()) == {1}, attempts
    final = read_jsonl(out)
    assert [r["id"] for r in final] == list(range(n))
    assert all(r["judgment"]["error"] is None for r in final)
