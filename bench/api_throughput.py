"""How close the API judge comes to the ideal throughput of its concurrency.

A loopback OpenAI-compatible server (tests/fault_server.py, in its own process so that it
does not share the client's core) answers every request after a fixed latency. With C
requests in flight and latency L, no client can do better than C / L requests a second; the
figure reported is achieved / ideal (target: at least 0.8).

    python bench/api_throughput.py                  # 2,000 requests, concurrency 64, 100 ms
    python bench/api_throughput.py --requests 500 --concurrency 16 --latency 0.05

Rows: the openai SDK alone (the reference: ``AsyncOpenAI.post`` under a semaphore, no
judge), the backend (``OpenAIJudge.complete`` on every request at once) and the whole
pipeline (``judge_file``: read, render, judge in windows, parse, write), with each HTTP
transport installed (aiohttp comes with ``pip install "openai[aiohttp]"``). Each is run
``--repeat`` times; the table shows the median and the best run, and the client's CPU time
per request, which bounds what any run can reach on a busy machine (the load average is
printed too). Nothing is cached and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_server.py"),
                               "--latency", str(latency), "--lifetime", "600"],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        server.kill()
        raise SystemExit(f"the loopback server did not start: {url!r}")
    return server, url


def items(n: int) -> list[dict[str, object]]:
    return [{"id": i, "question": f"Question ITEM-{i}: which answer is better?",
             "answer_a": f"GOOD answer number {i}.", "answer_b": f"BAD answer number {i}."}
            for i in range(n)]


def bench_backend(url: str, n: int, concurrency: int, transport: str) -> float:
    from judgecli.backends.base import Request
    from judgecli.backends.openai_api import OpenAIJudge
    from judgecli.records import Item  # noqa: F401  (the same import cost as a real run)
    from judgecli.templates import Prompt

    judge = OpenAIJudge("bench", base_url=url, api_key="bench-key", concurrency=concurrency,
                        cache=False, retries=0, transport=transport)
    requests = [Request(prompt=Prompt(messages=(
        {"role": "system", "content": "Judge. Answer [[A]] or [[B]]."},
        {"role": "user", "content": f"ITEM-{i} first: GOOD; second: BAD"})),
        max_new_tokens=64, parser="mtbench-verdict") for i in range(n)]
    try:
        judge.complete(requests[:concurrency])  # open the connections first
        started = time.perf_counter()
        done = judge.complete(requests)
        seconds = time.perf_counter() - started
    finally:
        judge.close()
    failed = [c.error for c in done if c.error]
    if failed:
        raise SystemExit(f"{len(failed)} request(s) failed, e.g. {failed[0]}")
    return seconds


def bench_sdk(url: str, n: int, concurrency: int, transport: str) -> float:
    """The reference: the openai SDK alone, the same requests, no judge around it."""
    import asyncio

    import openai

    from judgecli.backends.openai_api import _http_client

    async def go() -> float:
        client = openai.AsyncOpenAI(api_key="bench-key", base_url=url, max_retries=0,
                                    http_client=_http_client(transport))
        slots = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with slots:
                await client.post("/chat/completions", cast_to=openai.BaseModel, body={
                    "model": "bench", "max_tokens": 64, "temperature": 0, "logprobs": True,
                    "top_logprobs": 5, "messages": [
                        {"role": "system", "content": "Judge. Answer [[A]] or [[B]]."},
                        {"role": "user", "content": f"ITEM-{i} first: GOOD; second: BAD"}]})

        await asyncio.gather(*(one(i) for i in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        seconds = time.perf_counter() - started
        await client.close()
        return seconds

    return asyncio.run(go())


def bench_pipeline(url: str, n: int, concurrency: int, transport: str) -> float:
    from judgecli.backends.openai_api import OpenAIJudge
    from judgecli.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "pairs.jsonl"
        # Swap is on: each item is judged in both orders, two requests.
        source.write_text("".join(json.dumps(r) + "\n" for r in items(n // 2)))
        judge = OpenAIJudge("bench", base_url=url, api_key="bench-key",
                            concurrency=concurrency, cache=False, retries=0, transport=transport)
        options = JudgeOptions(template=load_template("mtbench-pair"), max_new_tokens=64)
        try:
            started = time.perf_counter()
            summary = judge_file(str(source), str(Path(tmp) / "out.jsonl"), judge, options,
                                 progress=False)
            seconds = time.perf_counter() - started
        finally:
            judge.close()
    if summary.errors or summary.judged != n // 2:
        raise SystemExit(f"pipeline: {summary.line()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    transports = ["httpx"] + (["aiohttp"] if importlib.util.find_spec("aiohttp") else [])
    server, url = start_server(args.latency)
    ideal = args.concurrency / args.latency
    rows = []
    try:
        for transport in transports:
            for name, run in (("openai SDK alone", bench_sdk), ("backend", bench_backend),
                              ("pipeline", bench_pipeline)):
                rates, cpus = [], []
                for _ in range(args.repeat):
                    cpu = time.process_time()
                    seconds = run(url, args.requests, args.concurrency, transport)
                    cpus.append((time.process_time() - cpu) / args.requests * 1000)
                    rates.append(args.requests / seconds)
                rows.append((f"{name} ({transport})", statistics.median(rates), max(rates),
                             statistics.median(cpus)))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.requests} requests, concurrency {args.concurrency}, latency "
          f"{args.latency * 1000:.0f} ms: ideal {ideal:.0f} req/s "
          f"({args.requests / ideal:.2f} s); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPU(s)\n")
    print(f"{'path':26s} {'median req/s':>12s} {'ratio':>6s} {'best req/s':>10s} {'ratio':>6s} "
          f"{'client CPU ms/req':>17s}")
    for name, median, best, cpu in rows:
        print(f"{name:26s} {median:12.0f} {median / ideal:6.2f} {best:10.0f} {best / ideal:6.2f} "
              f"{cpu:17.2f}")
    top = max(best for name, _, best, _ in rows if not name.startswith("openai")) / ideal
    print(f"\njudgecli's best achieved/ideal {top:.2f} (target >= 0.80): "
          f"{'ok' if top >= 0.8 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
