"""A closed stdout stops the run at once (issue 16 item 11): `judgecli judge … | head -1`
must not go on judging, and paying for, every item after the reader left."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_jsonl
from fault_server import FaultServer

N = 400


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp / "cache"))
    env.pop("OPENAI_BASE_URL", None)
    return env


def test_judge_stops_when_the_reader_of_stdout_leaves(tmp_path: Path) -> None:
    """Issue 26 item 2: records flow item by item, so `head -1` has its line after the
    first item's two replies, and the run stops with at most the requests in flight (it
    sent 800 requests, then 264-543, when records came a window at a time). The server
    answers 10 requests (5 items) and holds the rest, so the count does not depend on how
    fast this machine is."""
    rows = [{"id": i, "question": f"ITEM-{i} q", "answer_a": "GOOD", "answer_b": "BAD"}
            for i in range(N)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    concurrency = 8
    with FaultServer(latency=0.02, hold_after=10) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "judgecli", "judge", str(path), "--judge",
             "openai:gpt-4o", "--base-url", server.url, "-t", "mtbench-pair", "-q",
             "--concurrency", str(concurrency)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
        assert proc.stdout is not None and proc.stderr is not None
        # A line must come while the server holds the rest (window at a time, none did).
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        if not ready:
            proc.kill()
        assert ready, "no record before the window was done"
        first = json.loads(proc.stdout.readline())  # what `head -1` reads, then it leaves
        proc.stdout.close()
        left = server.total
        code = proc.wait(timeout=120)
        err = proc.stderr.read().decode()
        total, held = server.total, server.held
        server.release()
    assert first["id"] == 0 and first["judgment"]["error"] is None
    assert code == 141, err  # as a shell tool killed by SIGPIPE
    assert "Traceback" not in err and "Task was destroyed" not in err
    # What was answered, and at most one concurrency's worth in flight besides.
    assert total <= 10 + concurrency and held <= concurrency, (left, total, held)
    print(f"requests when the reader left: {left}, in all: {total} of {2 * N}")


def test_records_are_written_as_each_item_is_judged(tmp_path: Path) -> None:
    """In input order as soon as an item's replies are in, not when its window is done: with
    the server holding every request after the first six (items 0-2, both orders), those
    three records are in the file while the run waits (before, the file stayed empty until
    the window's 64 items were judged)."""
    import threading

    from conftest import read_jsonl

    from judgecli.backends.openai.judge import OpenAIJudge
    from judgecli.judging.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    rows = [{"id": i, "question": f"ITEM-{i} q", "answer_a": "GOOD", "answer_b": "BAD"}
            for i in range(40)]
    source, out = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    with FaultServer(latency=0.01, hold_after=6) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, api_key="sk-test", cache=False,
                            concurrency=4)
        options = JudgeOptions(template=load_template("mtbench-pair"))
        run = threading.Thread(target=judge_file, args=(str(source), str(out), judge, options),
                               kwargs={"progress": False}, daemon=True)
        run.start()
        deadline = time.monotonic() + 60
        while not (out.exists() and len(read_jsonl(out)) >= 3 and server.held >= 1):
            assert time.monotonic() < deadline, "no record came"
            time.sleep(0.01)
        written = [r["id"] for r in read_jsonl(out)]
        assert run.is_alive()  # mid-window: 34 items wait for the server
        server.release()
        run.join(60)
        judge.close()
    assert written == [0, 1, 2]
    assert [r["id"] for r in read_jsonl(out)] == list(range(40))
