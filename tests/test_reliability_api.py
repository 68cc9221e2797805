"""Issue 8, API faults: thousands of requests to the loopback fault server.

bench/reliability.py measures 10,000 requests; CI runs 2,000 with the same mix (20% 429,
5% 5xx, 2% timeouts, 1% malformed bodies) and judgecli's default retry budget. Every item
must end with the right verdict or an error that says why, in input order, exactly once;
no prompt may be answered (paid) twice, and none sent more than retries + 1 times.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer

from judgecli.backends.openai.judge import OpenAIJudge
from judgecli.judging.runner import JudgeOptions, judge_file
from judgecli.templates import load_template

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import reliability as bench  # noqa: E402


def test_thousands_of_faulty_requests_lose_nothing_and_invent_nothing(tmp_path: Path) -> None:
    n = bench.QUICK["fault_requests"]
    result = bench.fault_campaign(tmp_path, n)
    bench.print_table("faults", bench.fault_rows(result))
    # The server really misbehaved, in every way asked for.
    assert {"429", "500", "503", "timeout", "malformed"} <= set(result.outcomes)
    assert result.outcomes["429"] > 0.1 * n
    assert result.records == result.unique_ids == n // 2 and result.in_order
    assert result.made_up == 0  # every verdict rests on both orders' replies, and is right
    assert result.errors == result.errors_explained  # an error says it gave up, and when
    assert result.verdicts["A"] + result.errors == n // 2
    assert result.paid_twice == 0
    assert result.max_attempts <= result.retries + 1
    # One 200 per prompt, except for prompts that gave up (at most two per failed item).
    assert n - 2 * result.errors <= result.outcomes["ok"] <= n


def test_the_retry_budget_is_a_hard_limit(tmp_path: Path) -> None:
    """Faults on most attempts and 2 retries: many prompts give up, each after exactly 3
    attempts, and an item with a failed order has no verdict."""
    rows = bench.items(60, "r")
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    rates = {"500": 0.35, "429": 0.2, "malformed": 0.1, "drop": 0.05}
    with FaultServer(rates=rates, retry_after=0.01, seed=3, jitter=0.003) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, api_key=bench.KEY, retries=2,
                            concurrency=16, timeout=2.0, backoff_base=0.01, backoff_cap=0.05,
                            cache=False)
        try:
            summary = judge_file(str(source), str(tmp_path / "out.jsonl"), judge,
                                 JudgeOptions(template=load_template("mtbench-pair")),
                                 progress=False)
        finally:
            judge.close()
        attempts = Counter(server.attempts)
        served = Counter(server.served)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert max(attempts.values()) == 3  # 1 + 2 retries, never more
    gave_up = sum(1 for count in attempts.values() if count == 3) - \
        sum(1 for key, count in attempts.items() if count == 3 and served[key])
    assert gave_up == judge.failed > 0
    assert max(served.values()) == 1
    for record in out:
        judgment = record["judgment"]
        if judgment["error"] is None:
            assert judgment["verdict"] == "A" and judgment["consistent"] is True
        else:
            assert judgment["verdict"] is None
            assert "gave up after 3 attempts" in judgment["error"]
    assert summary.errors == sum(r["judgment"]["error"] is not None for r in out)
