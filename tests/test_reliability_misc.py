"""Issue 8: secrets, two runs sharing one cache, and outputs that must not be lost.

A planted key must reach neither stdout, stderr, output files, the cache nor exception text,
even when the server quotes it back in its error bodies and openai's debug log is on. Two
`judge` runs (and a third killed among them) sharing one cache leave it consistent: one
reply per prompt, each the reply to that prompt. An existing output is never overwritten
without --resume or --force, and never before anything is paid for.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer, judge_reply

from judgecli.backends.openai.judge import OpenAIJudge
from judgecli.backends.openai.cache import FILENAME, Cache
from judgecli.errors import JudgeLoadError, OutputError
from judgecli.judging.runner import JudgeOptions, judge_file
from judgecli.templates import load_template

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import reliability as bench  # noqa: E402

KEY = bench.KEY
NEEDLES = (KEY, KEY[len("sk-"):], KEY[-16:])


def judge_cmd(source: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "judgecli", "judge", str(source), "--judge", "openai:gpt-4o",
            "--base-url", url, "-t", "mtbench-pair", "--max-new-tokens", "64", "-q", *extra]


def assert_no_key(*texts: str, folder: Path | None = None) -> None:
    for text in texts:
        for needle in NEEDLES:
            assert needle not in text
    if folder is not None:
        assert bench.leaks(folder, KEY) == [] and bench.leaks(folder, KEY[-16:]) == []


# -- secrets -----------------------------------------------------------------------------------
class CarelessServer(FaultServer):
    """Its error bodies quote the Authorization header back, as careless proxies do."""

    async def _reply(self, outcome: str, writer: Any, request: dict[str, Any], prompt: str,
                     chat: bool, key: str, headers: dict[str, str], *more: Any) -> bool:
        said = headers.get("authorization", "")
        if outcome in ("429", "500", "503"):
            extra = {"retry-after": "0.01"} if outcome == "429" else {}
            await self._send(writer, int(outcome), {"error": {
                "message": f"{said} refused; key={said.removeprefix('Bearer ')}",
                "type": "server_error", "key": said}}, extra)
            return True
        return await super()._reply(outcome, writer, request, prompt, chat, key, headers,
                                    *more)


def test_a_planted_key_never_leaves_the_process(tmp_path: Path) -> None:
    rows = bench.items(4, "k")
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    script = {"k0": ["500", "ok"], "k1": ["429", "ok"], "k2": ["500"] * 9, "k3": ["503"] * 9}
    env = bench.child_env(OPENAI_API_KEY=KEY, OPENAI_LOG="debug",
                          JUDGECLI_CACHE_DIR=str(tmp_path / "cache"))
    with CarelessServer(script=script) as server:
        proc = subprocess.run(judge_cmd(source, server.url, "--retries", "2", "-o",
                                        str(tmp_path / "out.jsonl")),
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"Bearer {KEY}" in {h.get("authorization") for h in server.headers}
    out = {r["id"]: r["judgment"] for r in read_jsonl(tmp_path / "out.jsonl")}
    assert out["k0"]["verdict"] == out["k1"]["verdict"] == "A"
    for failed, status in (("k2", "HTTP 500"), ("k3", "HTTP 503")):
        assert out[failed]["verdict"] is None
        assert status in out[failed]["error"] and "***" in out[failed]["error"]
    assert "DEBUG" in proc.stderr  # openai's debug log was on, and said nothing of the key
    assert_no_key(proc.stdout, proc.stderr, folder=tmp_path)


def test_exception_text_never_holds_the_key(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bench.items(1, "x"))
    with FaultServer(script={"x0": ["401"]}) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, api_key=KEY, cache=False)
        try:
            with pytest.raises(JudgeLoadError) as caught:
                judge_file(str(source), str(tmp_path / "out.jsonl"), judge,
                           JudgeOptions(template=load_template("mtbench-pair")),
                           progress=False)
        finally:
            judge.close()
    text = "".join(traceback.format_exception(caught.value))
    assert "refused the key (HTTP 401)" in text
    assert_no_key(text, repr(caught.value), str(caught.value.args))


def test_a_key_echoed_in_a_reply_is_scrubbed(tmp_path: Path) -> None:
    class EchoServer(FaultServer):
        async def _reply(self, outcome: str, writer: Any, request: dict[str, Any],
                         prompt: str, chat: bool, key: str, headers: dict[str, str],
                         *more: Any) -> bool:
            said = headers.get("authorization", "")
            self.reply = lambda p: f"{judge_reply(p)}\n(served to {said})"  # type: ignore
            return await super()._reply(outcome, writer, request, prompt, chat, key, headers,
                                        *more)

    source = write_jsonl(tmp_path / "in.jsonl", bench.items(1, "e"))
    with EchoServer() as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, api_key=KEY,
                            cache_dir=str(tmp_path / "cache"))
        try:
            judge_file(str(source), str(tmp_path / "out.jsonl"), judge,
                       JudgeOptions(template=load_template("mtbench-pair")), progress=False)
        finally:
            judge.close()
    assert_no_key(folder=tmp_path)


# -- two runs, one cache -----------------------------------------------------------------------
def test_runs_sharing_one_cache_leave_it_consistent(tmp_path: Path) -> None:
    """Two runs over overlapping items write different outputs through one cache while a
    third, over all the items, is killed among them and resumed; a fourth is then answered
    entirely by the cache."""
    rows = bench.items(120, "c")
    ids = [r["id"] for r in rows]
    one = write_jsonl(tmp_path / "one.jsonl", rows[:80])
    two = write_jsonl(tmp_path / "two.jsonl", rows[40:])
    every = write_jsonl(tmp_path / "all.jsonl", rows)
    cache = tmp_path / "cache"
    env = bench.child_env(OPENAI_API_KEY=KEY, JUDGECLI_CACHE_DIR=str(cache))
    rng = random.Random()
    with bench.LedgerServer(latency=0.02, jitter=0.03, rates={"429": 0.05, "500": 0.05},
                            retry_after=0.01, seed=rng.randrange(1000)) as server:
        common = ("--concurrency", "4", "--retries", "10")
        procs = [subprocess.Popen(judge_cmd(src, server.url, *common, "-o", str(out)), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for src, out in ((one, tmp_path / "out1.jsonl"), (two, tmp_path / "out2.jsonl"),
                                  (every, tmp_path / "out3.jsonl"))]
        time.sleep(rng.uniform(1.0, 4.0))
        os.kill(procs[2].pid, signal.SIGKILL)
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode in ((0, -signal.SIGKILL) if proc is procs[2] else (0,)), err
        resumed = subprocess.run(judge_cmd(every, server.url, *common, "-o",
                                           str(tmp_path / "out3.jsonl"), "--resume"),
                                 env=env, capture_output=True, text=True, timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        paid = len(server.ledger)
        fourth = subprocess.run(judge_cmd(every, server.url, *common, "-o",
                                          str(tmp_path / "out4.jsonl")),
                                env=env, capture_output=True, text=True, timeout=180)
        assert fourth.returncode == 0, fourth.stderr
        assert len(server.ledger) == paid  # the cache answered everything
        ledger = list(server.ledger)
    outputs = {name: {r["id"]: r for r in read_jsonl(tmp_path / f"{name}.jsonl")}
               for name in ("out1", "out2", "out3", "out4")}
    assert list(outputs["out1"]) == ids[:80] and list(outputs["out2"]) == ids[40:]
    assert list(outputs["out3"]) == ids and list(outputs["out4"]) == ids
    for name, records in outputs.items():
        for key, record in records.items():
            assert record == outputs["out4"][key], (name, key)  # one reply per prompt
            assert record["judgment"]["verdict"] == "A"
    db = sqlite3.connect(cache / FILENAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows_cached = db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM replies").fetchone()
    finally:
        db.close()
    assert rows_cached == (2 * len(rows), 2 * len(rows))
    stored = Cache(cache)
    try:
        for key, _outcome, prompt in ledger:
            reply = stored.get(key)
            assert reply is not None and reply["text"] == judge_reply(prompt)
    finally:
        stored.close()
    served = Counter(key for key, outcome, _ in ledger if outcome == "ok")
    twice = sum(1 for count in served.values() if count > 1)
    # Runs that miss one key at the same moment may both ask (cache.py says so), and every
    # item is in two of the three runs, so how many prompts are asked twice depends on the
    # timing (165 of 240 seen once, against a bound of 160 this test had). What holds
    # whatever the timing: a run asks a prompt at most once, and a key is in at most three
    # runs plus the resumed one (a reply lost when the third run was killed).
    print(f"prompts {2 * len(rows)}, 200 replies {sum(served.values())}, "
          f"prompts answered more than once {twice}")
    assert max(served.values()) <= 4 and len(served) == 2 * len(rows)
    assert_no_key(folder=tmp_path)


# -- outputs -----------------------------------------------------------------------------------
def test_an_existing_output_is_refused_before_anything_is_paid(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", bench.items(3, "o"))
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "precious"}\n')
    env = bench.child_env(OPENAI_API_KEY=KEY, JUDGECLI_CACHE_DIR=str(tmp_path / "cache"))
    with FaultServer() as server:
        proc = subprocess.run(judge_cmd(source, server.url, "-o", str(out)), env=env,
                              capture_output=True, text=True, timeout=120)
        assert server.total == 0
    assert proc.returncode == 2 and "exists; use --resume" in proc.stderr
    assert out.read_text() == '{"id": "precious"}\n'


def test_the_input_is_never_its_own_output(tmp_path: Path) -> None:
    rows = bench.items(3, "s")
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    before = source.read_bytes()
    judge = OpenAIJudge("gpt-4o", base_url="http://127.0.0.1:9/v1", api_key=KEY, cache=False)
    try:
        with pytest.raises(OutputError):
            judge_file(str(source), str(source), judge,
                       JudgeOptions(template=load_template("mtbench-pair")), progress=False,
                       force=True)
    finally:
        judge.close()
        assert source.read_bytes() == before, "the input was destroyed"
