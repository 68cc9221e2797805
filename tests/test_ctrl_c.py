"""Ctrl-C (issue 16 item 12): what an interrupt leaves, and what it says.

An interrupt inside a window writes the items whose judgments all completed, up to the
first that did not (a local judge's window holds several batches; an API judge's many
replies), says "interrupted; N written; finish with --resume" with N the records in the
file, and --resume then judges every other item once. The signal is a real SIGINT sent to
a real `judgecli judge` process, against a loopback server and the tiny local judge.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer

from judgecli.backends.base import Completion, Judge, Request
from judgecli.roles.panel import Panel
from judgecli.judging.runner import JudgeOptions, Judging, judge_file
from judgecli.templates import load_template

INTERRUPTED = re.compile(r"judgecli: interrupted; (\d+) written; finish with --resume")


# -- in process: which records an interrupted window keeps ------------------------------------
class InterruptedJudge(Judge):
    """Answers every request but those of ``unfinished`` items, then raises Ctrl-C carrying
    what it finished, as the backends do; counts the requests it is asked."""

    name = "interrupted"

    def __init__(self, unfinished: set[str] | None = None) -> None:
        self.unfinished = unfinished or set()
        self.asked: list[str] = []

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        texts = [r.prompt.text or "" for r in requests]
        self.asked += texts
        done: list[Completion | None] = [
            None if any(f"ITEM-{tag} " in text for tag in self.unfinished)
            else Completion(text="8 3\nBecause.") for text in texts]
        if any(c is None for c in done):
            stop = KeyboardInterrupt()
            stop.completions = done  # type: ignore[attr-defined]
            raise stop
        return [c for c in done if c is not None]


def items(n: int) -> list[dict[str, object]]:
    return [{"id": i, "question": f"ITEM-{i} What is {i} + 1?", "answer_a": "GOOD",
             "answer_b": "BAD"} for i in range(n)]


OPTIONS = JudgeOptions(template=load_template("judgelm-pair"), mode="explain")


def test_an_interrupted_window_keeps_the_items_before_the_first_unfinished_one(
        tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", items(10))
    out = tmp_path / "out.jsonl"
    # Window 0..3 completes; in window 4..7, item 6 is unfinished (item 7 finished).
    judge = InterruptedJudge({"6"})
    with pytest.raises(KeyboardInterrupt) as stop:
        judge_file(str(source), str(out), judge, OPTIONS, progress=False, window=4)
    assert [r["id"] for r in read_jsonl(out)] == [0, 1, 2, 3, 4, 5]
    assert stop.value.written == 6  # type: ignore[attr-defined]
    # --resume judges items 6..9 only, and the file ends in input order.
    again = InterruptedJudge()
    summary = judge_file(str(source), str(out), again, OPTIONS, progress=False, window=4,
                         resume=True)
    assert summary.resumed == 6 and summary.judged == 4
    assert sorted({re.search(r"ITEM-(\d+) ", t).group(1) for t in again.asked}) == \
        ["6", "7", "8", "9"]  # type: ignore[union-attr]
    assert len(again.asked) == 2 * 4
    assert [r["id"] for r in read_jsonl(out)] == list(range(10))


def test_a_panel_members_records_are_not_written_as_the_panels(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", items(4))
    out = tmp_path / "out.jsonl"
    first, second = InterruptedJudge({"3"}), InterruptedJudge()
    second.name = "other"
    panel = Panel([Judging(first, OPTIONS), Judging(second, OPTIONS)])
    with pytest.raises(KeyboardInterrupt) as stop:
        judge_file(str(source), str(out), first, OPTIONS, progress=False, window=4,
                   judging=panel)
    # The first member finished items 0..2, but the panel judged none of them.
    assert out.read_bytes() == b"" and stop.value.written == 0  # type: ignore[attr-defined]


# -- a real SIGINT -----------------------------------------------------------------------------
def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp / "cache"),
               OMP_NUM_THREADS="1")
    return env


def _wait_for(proc: subprocess.Popen[str], check: Callable[[], bool],
              timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigint_during_an_api_run_keeps_its_replies_and_resume_asks_nothing_twice(
        tmp_path: Path) -> None:
    n = 40
    write_jsonl(tmp_path / "in.jsonl", [{"id": i, "question": f"ITEM-{i} q", "answer_a":
                                         "GOOD", "answer_b": "BAD"} for i in range(n)])
    out = tmp_path / "out.jsonl"
    # The server answers 24 requests and holds the rest: the SIGINT lands mid-run however
    # slow the machine (it raced the run's end when the test waited on time).
    with FaultServer(latency=0.02, hold_after=24) as server:
        # One window (64 items at concurrency 4) holds the whole run.
        command = [sys.executable, "-m", "judgecli", "judge", "in.jsonl", "--judge",
                   "openai:gpt-4o", "--base-url", server.url, "-t", "mtbench-pair", "-q",
                   "--concurrency", "4", "-o", str(out)]
        proc = subprocess.Popen(command, cwd=tmp_path, env=_env(tmp_path),
                                stderr=subprocess.PIPE, text=True)
        _wait_for(proc, lambda: server.held >= 1)  # 24 replies in, the window unfinished
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
        asked_first = dict(server.attempts)
        written = read_jsonl(out)
        server.release()
        resumed = subprocess.run([*command, "--resume"], cwd=tmp_path, env=_env(tmp_path),
                                 capture_output=True, text=True, timeout=120)
        attempts, log = dict(server.attempts), list(server.log)
    assert proc.returncode == 130, err
    said = INTERRUPTED.search(err)
    assert said is not None, err
    count = int(said.group(1))
    assert count == len(written) and count >= 5  # nothing was written before: one window
    assert [r["id"] for r in written] == list(range(count))  # input order, no gap
    assert all(r["judgment"]["error"] is None for r in written)
    assert "Task was destroyed" not in err and "Traceback" not in err
    assert len(asked_first) < 2 * n  # it did stop early
    assert resumed.returncode == 0, resumed.stderr
    assert f"already done {count}" in resumed.stderr
    final = read_jsonl(out)
    assert [r["id"] for r in final] == list(range(n))
    assert all(r["judgment"]["error"] is None for r in final)
    # Both runs together: the items written before the interrupt were asked for once (two
    # orders each); only requests in flight when it came (at most the concurrency, 4) were
    # sent again, and the replies that had come were read from the cache.
    assert len(attempts) == 2 * n and set(attempts.values()) <= {1, 2}
    assert sum(attempts.values()) - 2 * n <= 4
    per_item = Counter(tag for _, tag, _, _ in log)
    assert all(per_item[str(i)] == 2 for i in range(count))


# The tiny judge run as `judgecli judge`, telling a file how many prompts each batch held,
# and waiting before its third batch until interrupted: the test's SIGINT lands between
# batches of the first window, however fast the machine (it raced the run's end before).
_HOOKED = """
import sys, time
import judgecli.backends.hf.judge as hf
real, path, hold = hf.TransformersJudge._generate, sys.argv.pop(1), sys.argv.pop(1)
calls = []
def _generate(self, batch, max_new_tokens):
    calls.append(len(batch))
    if hold == "hold" and len(calls) == 3:
        time.sleep(600)  # Ctrl-C comes here
    done = real(self, batch, max_new_tokens)
    with open(path, "a") as log:
        log.write(f"{len(batch)}\\n")
    return done
hf.TransformersJudge._generate = _generate
from judgecli.cli.commands import main
sys.argv[0] = "judgecli"
main()
"""


def test_sigint_during_a_local_window_keeps_its_finished_batches(
        tmp_path: Path, tiny_judge: Path) -> None:
    n = 12
    # Longest prompts first: the judge's batches (longest first) then follow the input.
    write_jsonl(tmp_path / "in.jsonl", [
        {"id": i, "question": "What is " + "one plus " * (n - i) + "one?", "answer_a": "2",
         "answer_b": "3"} for i in range(n)])
    out, log = tmp_path / "out.jsonl", tmp_path / "batches.log"

    def command(*more: str, hold: str = "go") -> list[str]:
        # The log's path and the hold flag are taken from argv before the CLI reads it.
        return [sys.executable, "-c", _HOOKED, str(log), hold, "judge", "in.jsonl", "--judge",
                str(tiny_judge), "-t", "judgelm-pair", "--mode", "explain",
                "--max-new-tokens", "48", "--batch-size", "2", "-q", "-o", str(out), *more]

    # A window is 4 batches of 2 prompts, one item (both orders) a batch: items 0..3.
    proc = subprocess.Popen(command(hold="hold"), cwd=tmp_path, env=_env(tmp_path),
                            stderr=subprocess.PIPE, text=True)
    _wait_for(proc, lambda: log.exists() and len(log.read_text().split()) >= 2, timeout=120)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    said = INTERRUPTED.search(err)
    assert said is not None, err
    batches = len(log.read_text().split())
    written = read_jsonl(out)
    count = int(said.group(1))
    print(f"batches finished {batches}, records written {count}")
    assert count == len(written) and "Traceback" not in err
    # Every batch finished before the interrupt is written: one item each, in input order
    # (the last one logged may have been cut off just before it was kept).
    assert batches - 1 <= count <= batches and count >= 1
    assert [r["id"] for r in written] == list(range(count))
    log.write_text("")
    resumed = subprocess.run(command("--resume"), cwd=tmp_path, env=_env(tmp_path),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode in (0, 1), resumed.stderr  # 1: every reply unparseable
    assert f"already done {count}" in resumed.stderr
    # The resumed run judged only the other items: two prompts each.
    assert sum(int(x) for x in log.read_text().split()) == 2 * (n - count)
    assert [r["id"] for r in read_jsonl(out)] == list(range(n))
    assert len({json.dumps(r["id"]) for r in read_jsonl(out)}) == n
