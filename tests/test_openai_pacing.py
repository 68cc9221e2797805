"""Faults cost only what they must (issue 17 item 1), against tests/fault_server.py.

A Retry-After delays its own request only; the rate-limit headers hold everyone back only
when they say the account is used up (until it resets); a 429 with no guidance at all
halves the requests in flight (AIMD), and the window grows back as replies succeed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer

from judgecli.backends.openai.judge import OpenAIJudge
from judgecli.backends.openai.ratelimit import ServerLimits, Window, reset_seconds
from judgecli.judging.runner import JudgeOptions, judge_file
from judgecli.templates import load_template

FAST = dict(api_key="sk-test", backoff_base=0.01, backoff_cap=0.05, timeout=5.0,
            cache=False)


def pairs(*tags: str) -> list[dict[str, str]]:
    return [{"id": tag, "question": f"Which is better? ITEM-{tag}", "answer_a": "GOOD answer.",
             "answer_b": "BAD answer."} for tag in tags]


def run(server: FaultServer, tmp: Path, tags: list[str], **options: object):
    source = write_jsonl(tmp / "in.jsonl", pairs(*tags))
    judge = OpenAIJudge("gpt-4o", base_url=server.url, **{**FAST, **options})  # type: ignore[arg-type]
    try:
        summary = judge_file(str(source), str(tmp / "out.jsonl"), judge,
                             JudgeOptions(template=load_template("mtbench-pair"), swap=False),
                             progress=False, force=True)
    finally:
        judge.close()
    return summary, read_jsonl(tmp / "out.jsonl"), judge


# -- pure parts ------------------------------------------------------------------------------
@pytest.mark.parametrize("text,seconds", [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02),
                                          ("1h2m3.5s", 3723.5), ("0.25", 0.25), ("", None),
                                          ("soon", None), ("5x", None), (None, None)])
def test_reset_durations_as_openai_writes_them(text: str | None, seconds: float | None) -> None:
    got = reset_seconds(text)
    assert got == pytest.approx(seconds) if seconds is not None else got is None


def test_server_limits_hold_back_only_when_used_up() -> None:
    limits = ServerLimits()
    limits.note({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "2s",
                 "x-ratelimit-remaining-tokens": "500", "x-ratelimit-reset-tokens": "1s"}, 100.0)
    assert limits.wait(100, 100.0) == 0  # requests and tokens left
    assert limits.wait(600, 100.0) == pytest.approx(1.0)  # more tokens than are left
    limits.note({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"},
                100.5)
    assert limits.wait(1, 101.0) == pytest.approx(1.5)
    assert limits.wait(1, 103.0) == 0  # reset
    limits.note({"x-ratelimit-remaining-requests": "zero"}, 104.0)  # unreadable: ignored
    assert limits.wait(1, 104.0) == 0


def test_window_halves_once_a_round_trip_and_grows_back() -> None:
    async def go() -> None:
        window = Window(8)
        started = [await window.acquire() for _ in range(8)]
        assert window.in_flight == 8
        late = asyncio.ensure_future(window.acquire())
        await asyncio.sleep(0)
        assert not late.done()  # full: the ninth waits
        # Three requests sent before the cut come back overloaded: one cut, not three.
        for t in started[:3]:
            window.release(t, overloaded=True)
        assert window.limit == 4 and window.cuts == 1
        assert not late.done()  # 5 in flight, limit 4
        for t in started[3:5]:
            window.release(t)  # successes: +1/limit each
        await asyncio.sleep(0)
        assert late.done() and window.in_flight == 4
        assert window.limit == pytest.approx(4 + 1 / 4 + 1 / (4 + 1 / 4))
        # A request sent after the cut that is overloaded again cuts again.
        window.release(await late, overloaded=True)
        assert window.cuts == 2 and window.limit == pytest.approx(
            (4 + 1 / 4 + 1 / (4 + 1 / 4)) / 2)

    asyncio.run(go())


def test_window_serves_waiters_in_order_and_a_cancelled_one_gives_its_slot_back() -> None:
    async def go() -> None:
        window = Window(1)
        first = await window.acquire()
        order: list[int] = []

        async def wait(n: int) -> None:
            await window.acquire()
            order.append(n)

        waiters = [asyncio.ensure_future(wait(n)) for n in range(3)]
        await asyncio.sleep(0)
        waiters[0].cancel()
        await asyncio.sleep(0)
        window.release(first)
        await asyncio.sleep(0)
        assert order == [1] and window.in_flight == 1
        window.release(0.0)
        await asyncio.sleep(0)
        assert order == [1, 2]
        for task in waiters:
            task.cancel()

    asyncio.run(go())


# -- against the loopback server -------------------------------------------------------------
def test_retry_after_delays_only_its_own_request(tmp_path: Path) -> None:
    tags = ["slow"] + [f"n{i}" for i in range(60)]
    with FaultServer(latency=0.02, script={"slow": ["429", "ok"]}, retry_after=2.0) as server:
        summary, out, _ = run(server, tmp_path, tags, concurrency=4)
        log = list(server.log)
    assert summary.errors == 0 and [r["id"] for r in out] == tags
    refused_at = next(t for t, tag, outcome, _ in log if tag == "slow" and outcome == "429")
    retried_at = max(t for t, tag, _, _ in log if tag == "slow")
    assert retried_at - refused_at >= 2.0  # it waited what the server asked
    # Meanwhile the others went on: counted by the server's log, not timed (before, all
    # were held back until the retry, and at most the 3 others in flight came in between).
    during = [tag for t, tag, _, _ in log if refused_at < t < retried_at and tag != "slow"]
    assert len(during) >= 20


def test_rate_limit_headers_pace_everyone_until_the_reset(tmp_path: Path) -> None:
    tags = [f"q{i}" for i in range(40)]
    with FaultServer(latency=0.01, quota=(10, 0.4)) as server:
        summary, out, judge = run(server, tmp_path, tags, concurrency=8, retries=6)
        rejected, total = server.rejected["quota"], server.total
    assert summary.errors == 0 and [r["id"] for r in out] == tags
    # Only requests already on their way when the account ran out can be refused: about one
    # concurrency's worth per window of the quota (4 windows of 10 for 40 requests; before,
    # 100 were refused). The server's windows are wall-clock ones, so a loaded machine can
    # shift a few requests across a reset: the bound is generous.
    print(f"quota 429s {rejected} of {total} requests")
    assert rejected <= 20 and total == len(tags) + rejected


def test_unguided_429s_shrink_the_window_and_lose_nothing(tmp_path: Path) -> None:
    tags = [f"o{i}" for i in range(80)]
    with FaultServer(latency=0.02, capacity=4) as server:
        summary, out, judge = run(server, tmp_path, tags, concurrency=32, retries=4)
        rejected, total = server.rejected["overload"], server.total
    print(f"overload 429s {rejected} of {total}; cuts {judge._window.cuts}; "
          f"limit {judge._window.limit:.1f}")
    assert summary.errors == 0 and [r["id"] for r in out] == tags
    assert judge._window.cuts >= 1 and judge._window.limit < 32
    assert total == len(tags) + rejected and rejected < len(tags)


def test_the_next_window_runs_behind_the_last_ones_straggler(tmp_path: Path) -> None:
    # Windows of 4 items; the first item's only request waits out a 2 s Retry-After (long
    # enough for the second window's 4 requests on a loaded machine).
    tags = ["slow", "a1", "a2", "a3", "b0", "b1", "b2", "b3", "c0", "c1"]
    source = write_jsonl(tmp_path / "in.jsonl", pairs(*tags))
    with FaultServer(latency=0.01, script={"slow": ["429", "ok"]}, retry_after=2.0) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, concurrency=2, **FAST)  # type: ignore[arg-type]
        try:
            summary = judge_file(str(source), str(tmp_path / "out.jsonl"), judge,
                                 JudgeOptions(template=load_template("mtbench-pair"),
                                              swap=False), progress=False, window=4)
        finally:
            judge.close()
        log = list(server.log)
    assert summary.errors == 0
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == tags  # input order
    refused_at = next(t for t, tag, outcome, _ in log if tag == "slow" and outcome == "429")
    retried_at = max(t for t, tag, _, _ in log if tag == "slow")
    # While the first window waited for its straggler, the second window was judged (the
    # third starts only when the second is finished: one window ahead at most).
    during = {tag for t, tag, _, _ in log if refused_at < t < retried_at}
    assert {"b0", "b1", "b2", "b3"} <= during and not during & {"c0", "c1"}
