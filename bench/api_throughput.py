"""How close the API judge comes to the ideal throughput of its concurrency, and how it
compares with the bare openai client under faults.

Default (issue 17): judgecli's whole pipeline (``judge_file``, swap on and off) against the
bare ``AsyncOpenAI`` client (its own retries, which honour Retry-After; over httpx and over
aiohttp) sending the same rendered prompts under the same concurrency, on a clean server and
on one that answers 20% 429 (Retry-After 0.05 s), 5% 503 and 1% truncated JSON. Each is run
``--repeat`` times: min and median wall time, and items lost (no verdict). Targets: under
faults judgecli <= 1.1x the bare aiohttp client's time with 0 lost; clean, >= 0.95x its
throughput.

    python bench/api_throughput.py                  # 2,000 items, concurrency 64, 100 ms
    python bench/api_throughput.py --items 500 --repeat 1
    python bench/api_throughput.py --ideal          # the table below

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


FAULTS = "429=0.2,503=0.05,malformed=0.01"


def start_server(latency: float, rates: str = "",
                 retry_after: float = 0.05) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_server.py"),
                               "--latency", str(latency), "--lifetime", "3600",
                               "--rates", rates, "--retry-after", str(retry_after)],
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
    from judgecli.backends.openai.judge import OpenAIJudge
    from judgecli.io.records import Item  # noqa: F401  (the same import cost as a real run)
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

    from judgecli.backends.openai.judge import _http_client

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
    from judgecli.backends.openai.judge import OpenAIJudge
    from judgecli.judging.runner import JudgeOptions, judge_file
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


def rendered(n: int, swap: bool) -> list[list[dict[str, str]]]:
    """The chat messages judgecli sends for ``n`` items (both orders with swap)."""
    from judgecli.io.records import to_item
    from judgecli.templates import load_template

    template = load_template("mtbench-pair")
    out = []
    for number, record in enumerate(items(n)):
        item = to_item(record, file="bench", line=number + 1)
        for order in ("AB", "BA") if swap else ("AB",):
            out.append([dict(m) for m in template.render(item, order).messages or ()])
    return out


def bench_bare(url: str, n: int, concurrency: int, transport: str, swap: bool
               ) -> tuple[float, int]:
    """The bare client: ``chat.completions.create`` on each prompt under a semaphore, with
    the SDK's default retries (2, honouring Retry-After); (seconds, items lost)."""
    import asyncio

    import openai

    from judgecli.backends.openai.judge import _http_client

    prompts = rendered(n, swap)
    per_item = 2 if swap else 1

    async def go() -> tuple[float, int]:
        client = openai.AsyncOpenAI(api_key="bench-key", base_url=url,
                                    http_client=_http_client(transport))
        slots = asyncio.Semaphore(concurrency)

        async def one(messages: list[dict[str, str]]) -> bool:
            async with slots:
                try:
                    await client.chat.completions.create(
                        model="bench", messages=messages, max_tokens=64, temperature=0,
                        logprobs=True, top_logprobs=5)  # type: ignore[arg-type]
                    return True
                except Exception:
                    return False

        started = time.perf_counter()
        ok = await asyncio.gather(*(one(m) for m in prompts))
        seconds = time.perf_counter() - started
        await client.close()
        lost = sum(not all(ok[i:i + per_item]) for i in range(0, len(ok), per_item))
        return seconds, lost

    return asyncio.run(go())


def bench_judgecli(url: str, n: int, concurrency: int, transport: str, swap: bool
                   ) -> tuple[float, int]:
    """judgecli's pipeline on the same items; (seconds, items without a verdict)."""
    from judgecli.backends.openai.judge import OpenAIJudge
    from judgecli.judging.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "pairs.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in items(n)))
        judge = OpenAIJudge("bench", base_url=url, api_key="bench-key",
                            concurrency=concurrency, cache=False, transport=transport)
        options = JudgeOptions(template=load_template("mtbench-pair"), max_new_tokens=64,
                               swap=None if swap else False)
        try:
            started = time.perf_counter()
            summary = judge_file(str(source), str(Path(tmp) / "out.jsonl"), judge, options,
                                 progress=False)
            seconds = time.perf_counter() - started
            records = [json.loads(line) for line in open(Path(tmp) / "out.jsonl")]
        finally:
            judge.close()
    invented = [r for r in records if r["judgment"]["verdict"] not in (None, "A")]
    if invented or len(records) != n:
        raise SystemExit(f"judgecli: {len(records)} records, {len(invented)} wrong verdicts")
    return seconds, summary.errors


def compare_tables(args: argparse.Namespace) -> None:
    transports = ["httpx"] + (["aiohttp"] if importlib.util.find_spec("aiohttp") else [])
    clients = [(f"bare openai ({t})", bench_bare, t) for t in transports]
    clients += [(f"judgecli ({transports[-1]})", bench_judgecli, transports[-1])]
    verdicts = []
    for condition, rates in (("clean", ""), ("faults " + FAULTS + ", Retry-After 0.05 s",
                                             FAULTS)):
        server, url = start_server(args.latency, rates)
        try:
            bench_bare(url, args.concurrency, args.concurrency, transports[-1], False)  # warm
            for swap in (True, False):
                rows = []
                for name, run, transport in clients:
                    runs = [run(url, args.items, args.concurrency, transport, swap)
                            for _ in range(args.repeat)]
                    times, lost = [t for t, _ in runs], [k for _, k in runs]
                    rows.append((name, min(times), statistics.median(times), max(lost)))
                print(f"\n{condition}; {args.items} items, swap {'on' if swap else 'off'} "
                      f"({args.items * (2 if swap else 1)} requests), concurrency "
                      f"{args.concurrency}, latency {args.latency * 1000:.0f} ms, "
                      f"{args.repeat} run(s); load average {os.getloadavg()[0]:.1f}")
                print(f"{'client':24s} {'min s':>7s} {'median s':>9s} {'items lost':>10s} "
                      f"{'median / bare aiohttp':>22s}")
                base = rows[len(transports) - 1][2]
                for name, low, median, lost in rows:
                    print(f"{name:24s} {low:7.2f} {median:9.2f} {lost:10d} "
                          f"{median / base:22.2f}")
                ratio, lost = rows[-1][2] / base, rows[-1][3]
                target = 1.1 if rates else 1 / 0.95
                verdicts.append(f"{condition.split(' ')[0]}, swap {'on' if swap else 'off'}: "
                                f"judgecli {ratio:.2f}x the bare client's time, {lost} lost "
                                f"(target <= {target:.2f}x, 0 lost): "
                                f"{'ok' if ratio <= target and lost == 0 else 'MISSED'}")
        finally:
            server.terminate()
            server.wait(10)
    print("\n" + "\n".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--ideal", action="store_true",
                        help="the achieved/ideal table of the SDK, backend and pipeline")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if not args.ideal:
        return compare_tables(args)
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
