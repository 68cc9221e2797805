"""Reliability, measured: kill -9 and --resume, API faults, the reply cache (issue 8).

    python bench/reliability.py                  # full size; about 10 minutes on 2 busy cores
    python bench/reliability.py --quick          # the sizes CI runs (tests/test_reliability_*)
    python bench/reliability.py --only faults    # one part: kill-local, kill-api or faults

kill-local  ``judgecli judge`` on N items with a tiny local judge (tests/tiny_judge.py), killed
            with SIGKILL at K random moments, each time started again with ``--resume``, then
            finished; compared byte for byte with an uninterrupted run of the same command.
            A moment is either a random time after the start (often while Python imports or
            the model loads) or a random delay after the output reached a random length (while
            a window is judged or written). After every kill the output must be a valid JSONL
            prefix: complete lines that are records of the first ids of the input, in order,
            and at most one unterminated tail (counted as torn, cut off by --resume).
kill-api    the same with an API judge against the loopback fault server
            (tests/fault_server.py, some 429s and 500s) sharing one reply cache. The server
            notes the cache key of every request; a request for a prompt that was already in
            the cache when its run started is one the cache failed to answer (paid twice).
            Replies the server sent to a process that was killed before it could store them
            are counted apart (lost in flight: inherent, at most --concurrency per kill).
faults      R requests (R/2 items judged in both orders) to the fault server with 20% 429,
            5% 5xx, 2% timeouts and 1% malformed bodies, with judgecli's default retry budget
            (6 retries): every item must end with the right verdict or an error, in input
            order, once; no prompt answered twice; no prompt sent more than 7 times.

Timings are scaled down so that a run takes minutes (Retry-After 20 ms, backoff from 50 ms,
a 2 s request timeout): the counts are what is measured, not the waits. Subprocesses run
with one torch thread (OMP_NUM_THREADS=1): on a shared machine more threads only contend,
and every run of a comparison must use the same setting to compute the same numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_server import FaultServer  # noqa: E402

from judgecli.backends.openai.cache import FILENAME, cache_key  # noqa: E402

KEY = "sk-planted-" + "7d1e0c9a4b" * 3  # must never leave the process that was given it
FAULT_RATES = {"429": 0.20, "500": 0.025, "503": 0.025, "timeout": 0.02, "malformed": 0.01}
API_KILL_RATES = {"429": 0.10, "500": 0.05}
QUICK = dict(local_items=300, local_kills=5, api_items=300, api_kills=5, fault_requests=2000)
FULL = dict(local_items=2000, local_kills=20, api_items=2000, api_kills=20,
            fault_requests=10_000)


def items(n: int, prefix: str = "q") -> list[dict[str, Any]]:
    """Pairwise items whose answer A is the better one (the fault server's judge says so)."""
    return [{"id": f"{prefix}{i}", "question": f"Which answer is better? ITEM-{prefix}{i}",
             "answer_a": f"GOOD answer {i}: {3 * i}.",
             "answer_b": f"BAD answer {i}: {3 * i + 1} {{maybe}}.", "category": "math"}
            for i in range(n)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


# -- the output file after a kill ----------------------------------------------------------------
def split_output(path: Path) -> tuple[list[bytes], bytes]:
    """Complete lines (with their newline) and the unterminated tail, if any."""
    data = path.read_bytes() if path.exists() else b""
    cut = data.rfind(b"\n") + 1
    return data[:cut].splitlines(keepends=True), data[cut:]


def valid_prefix(lines: list[bytes], ids: list[str]) -> bool:
    """Every complete line is a judgment record, and their ids are the input's first ids."""
    got = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            return False
        if not isinstance(record, dict) or "judgment" not in record:
            return False
        got.append(record.get("id"))
    return got == ids[:len(got)]


class Lines:
    """Counts the complete lines of a growing file without re-reading it."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.count = path, 0, 0

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return self.count
        cut = chunk.rfind(b"\n") + 1
        self.count += chunk[:cut].count(b"\n")
        self.offset += cut
        return self.count


# -- kill -9 and --resume ----------------------------------------------------------------------
@dataclass
class KillResult:
    name: str
    items: int
    kills: int = 0  # kills that landed on a running process
    early: int = 0  # of which before that run had written anything
    torn_tails: int = 0  # kills that left an unterminated last line
    bad_prefixes: int = 0  # kills after which the output was not a valid JSONL prefix
    runs: int = 0
    final_ids: int = 0
    unique_ids: int = 0
    identical: int = 0  # final records byte-identical to the uninterrupted run's
    torn_lines: int = 0  # lines of the final output that are not JSON
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def timed_run(command: list[str], out: Path, env: dict[str, str],
              timeout: float = 900) -> tuple[float, float]:
    """Run to the end; (seconds until the first line was written, seconds in all)."""
    lines = Lines(out)
    started = time.monotonic()
    first = None
    proc = subprocess.Popen(command + ["-o", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    while proc.poll() is None:
        if first is None and lines.poll() > 0:
            first = time.monotonic() - started
        if time.monotonic() - started > timeout:
            proc.kill()
        time.sleep(0.005)
    total = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])}...: exit {proc.returncode}: "
                           f"{proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return (first if first is not None else total), total


def kill_campaign(name: str, command: list[str], out: Path, ids: list[str], kills: int,
                  reference: bytes, *, env: dict[str, str], rng: random.Random,
                  startup: float, item_seconds: float, wait_first_line: bool,
                  logs: Path, early_share: float = 0.2,
                  before_run: Callable[[], None] | None = None,
                  timeout: float = 900) -> KillResult:
    """Kill ``command -o out`` (then ``--resume``) until ``kills`` kills have landed on a
    running process, then let a last ``--resume`` finish.

    A kill moment is, with probability ``early_share``, a random time within the start-up
    (``startup`` seconds: imports, loading, reading the output); otherwise a random time
    within about twice this kill's share of the work left (``item_seconds`` an item),
    counted from the run's first new line (``wait_first_line``) or from its start."""
    n = len(ids)
    result = KillResult(name=name, items=n)
    started = time.monotonic()
    done = 0
    while result.kills < kills and done < n and result.runs < 4 * kills:
        if before_run is not None:
            before_run()
        resume = ["--resume"] if out.exists() else []
        with open(logs / f"run{result.runs}.stderr", "wb") as err:
            proc = subprocess.Popen(command + ["-o", str(out), *resume], env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        result.runs += 1
        lines = Lines(out)
        before = lines.poll()
        t0 = time.monotonic()
        remaining = (n - done) * item_seconds
        if rng.random() < early_share:
            deadline = t0 + rng.uniform(0, startup)
        else:
            base = t0
            if wait_first_line:
                while proc.poll() is None and lines.poll() == before:
                    if time.monotonic() - t0 > timeout:
                        raise RuntimeError(f"{name}: no progress in {timeout:.0f}s")
                    time.sleep(0.005)
                base = time.monotonic()
            # About this kill's share of the work left, so that every kill lands.
            share = 2 * remaining / (kills - result.kills + 1)
            deadline = base + rng.uniform(0, min(share, 0.9 * remaining))
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            result.kills += 1
            result.early += lines.poll() == before
        complete, tail = split_output(out)
        if os.environ.get("RELIABILITY_TRACE"):
            print(f"  {name} run {result.runs}: {'killed' if proc.returncode == -9 else 'ended'}"
                  f" after {time.monotonic() - t0:.2f}s at {len(complete)} lines"
                  f" (was {done}, tail {len(tail)} bytes)", file=sys.stderr)
        result.torn_tails += bool(tail)
        result.bad_prefixes += not valid_prefix(complete, ids)
        done = len(complete)
    if before_run is not None:
        before_run()
    with open(logs / f"run{result.runs}.stderr", "wb") as err:
        final = subprocess.run(command + ["-o", str(out), "--resume"], env=env,
                               stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
    result.runs += 1
    if final.returncode != 0:
        raise RuntimeError(f"{name}: the last --resume exited {final.returncode}: "
                           f"{(logs / f'run{result.runs - 1}.stderr').read_text()[-500:]}")
    result.seconds = time.monotonic() - started
    lines_out = out.read_bytes().splitlines(keepends=True)
    final_ids = []
    for line in lines_out:
        try:
            final_ids.append(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            result.torn_lines += 1
    result.final_ids = len(final_ids)
    result.unique_ids = len(set(final_ids))
    result.identical = sum(a == b for a, b in zip(lines_out, reference.splitlines(True),
                                                    strict=False))
    return result


def kill_local(work: Path, judge_path: Path, n: int, kills: int, seed: int = 0) -> KillResult:
    """kill-local: a tiny transformers judge, --batch-size 2 (a window is 8 items)."""
    rng = random.Random(seed)
    rows = items(n)
    source = write_jsonl(work / "local-in.jsonl", rows)
    command = [sys.executable, "-m", "judgecli", "judge", str(source), "--judge",
               str(judge_path), "--batch-size", "2", "-q"]
    env = child_env()
    first, total = timed_run(command, work / "local-ref.jsonl", env)
    logs = work / "local-logs"
    logs.mkdir(exist_ok=True)
    result = kill_campaign("kill-local", command, work / "local-out.jsonl",
                           [r["id"] for r in rows], kills,
                           (work / "local-ref.jsonl").read_bytes(), env=env, rng=rng,
                           startup=first, item_seconds=(total - first) / n,
                           wait_first_line=True, logs=logs)
    result.extra["uninterrupted_seconds"] = round(total, 1)
    return result


class LedgerServer(FaultServer):
    """The fault server, noting for every request the key judgecli's cache gives it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # (cache key, outcome, prompt text), in arrival order
        self.ledger: list[tuple[str, str, str]] = []

    async def _reply(self, outcome: str, writer: Any, request: dict[str, Any], prompt: str,
                     chat: bool, key: str, headers: dict[str, str], *more: Any) -> bool:
        self.ledger.append((cache_key(endpoint=self.url, api="chat" if chat else "completions",
                                      **request), outcome, prompt))
        return await super()._reply(outcome, writer, request, prompt, chat, key, headers,
                                    *more)


def cache_intact(directory: Path) -> bool:
    """SQLite's integrity check passes and every stored reply is whole JSON with a text."""
    db = sqlite3.connect(directory / FILENAME)
    try:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return False
        return all(json.loads(value).get("text") is not None
                   for (value,) in db.execute("SELECT value FROM replies"))
    finally:
        db.close()


def cached_keys(directory: Path) -> set[str]:
    path = directory / FILENAME
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT key FROM replies")}
    finally:
        db.close()


def kill_api(work: Path, n: int, kills: int, seed: int = 0) -> KillResult:
    """kill-api: openai:MODEL against the loopback server, concurrency 4, one shared cache."""
    rng = random.Random(seed)
    rows = items(n, "a")
    source = write_jsonl(work / "api-in.jsonl", rows)
    logs = work / "api-logs"
    logs.mkdir(exist_ok=True)
    with LedgerServer(rates=API_KILL_RATES, retry_after=0.02, latency=0.01, jitter=0.02,
                      seed=seed, lifetime=3600) as server:
        command = [sys.executable, "-m", "judgecli", "judge", str(source), "--judge",
                   "openai:gpt-4o", "--base-url", server.url, "-t", "mtbench-pair",
                   "--concurrency", "4", "--retries", "10", "--timeout", "5",
                   "--max-new-tokens", "64", "-q"]
        # Windows of 64 items (4 x the backend's batch of 16) are written whole, so the kills
        # are timed from each run's start: many land inside a window, or in the start-up.
        first, total = timed_run(command, work / "api-ref.jsonl",
                                 child_env(OPENAI_API_KEY=KEY,
                                           JUDGECLI_CACHE_DIR=str(work / "api-ref-cache")))
        reference_requests = len(server.ledger)
        cache = work / "api-cache"
        snapshots: list[tuple[int, set[str]]] = []  # (ledger index, keys cached) per run

        def before_run() -> None:
            snapshots.append((len(server.ledger), cached_keys(cache)))

        result = kill_campaign("kill-api", command, work / "api-out.jsonl",
                               [r["id"] for r in rows], kills,
                               (work / "api-ref.jsonl").read_bytes(),
                               env=child_env(OPENAI_API_KEY=KEY, JUDGECLI_CACHE_DIR=str(cache)),
                               rng=rng, startup=first, item_seconds=total / n,
                               wait_first_line=False, logs=logs, before_run=before_run)
        time.sleep(0.2)  # the last replies to killed clients
        ledger = server.ledger[reference_requests:]
    bounds = [index - reference_requests for index, _ in snapshots] + [len(ledger)]
    asked_again = paid_twice = 0
    for (_, known), start, end in zip(snapshots, bounds, bounds[1:], strict=False):
        for key, outcome, _ in ledger[start:end]:
            if key in known:
                asked_again += 1
                paid_twice += outcome == "ok"
    served = Counter(key for key, outcome, _ in ledger if outcome == "ok")
    final_cache = cached_keys(cache)
    result.extra.update(
        requests=len(ledger), prompts=2 * n, asked_again_though_cached=asked_again,
        paid_twice=paid_twice, lost_in_flight=sum(served.values()) - len(served),
        cache_rows=len(final_cache), served_prompts_cached=set(served) <= final_cache,
        cache_intact=cache_intact(cache),
        uninterrupted_seconds=round(total, 1), key_leaks=leaks(work, KEY))
    return result


def leaks(directory: Path, secret: str) -> list[str]:
    """Files under ``directory`` (outputs, caches, logs) that contain ``secret``."""
    needles = (secret.encode(), secret[len("sk-"):].encode())
    return [str(p) for p in sorted(directory.rglob("*"))
            if p.is_file() and any(s in p.read_bytes() for s in needles)]


def prompt_key(prompt: Any) -> str:
    """The fault server's name for a prompt (its ``attempts`` and ``served`` keys)."""
    text = prompt.text if prompt.text is not None else \
        "\n".join(m["content"] for m in prompt.messages)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- API faults --------------------------------------------------------------------------------
@dataclass
class FaultResult:
    requests: int  # prompts (items x 2 orders)
    http_requests: int = 0  # attempts the server received
    outcomes: Counter[str] = field(default_factory=Counter)
    records: int = 0
    unique_ids: int = 0
    in_order: bool = False
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    errors_explained: int = 0  # errors that say "gave up after <retries + 1> attempts"
    made_up: int = 0  # verdicts without both orders answered by the server, or wrong
    paid_twice: int = 0  # prompts the server answered (200) more than once
    max_attempts: int = 0
    retries: int = 6
    attempts_histogram: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0


def fault_campaign(work: Path, n_requests: int, *, retries: int = 6, concurrency: int = 32,
                   seed: int = 0) -> FaultResult:
    from judgecli.backends.openai.judge import OpenAIJudge
    from judgecli.io.records import to_item
    from judgecli.judging.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    n = n_requests // 2
    rows = items(n, "f")
    source = write_jsonl(work / "faults-in.jsonl", rows)
    out = work / "faults-out.jsonl"
    result = FaultResult(requests=2 * n, retries=retries)
    with FaultServer(rates=FAULT_RATES, retry_after=0.02, hang=2.5, jitter=0.005, seed=seed,
                     lifetime=3600, max_requests=10 * n_requests) as server:
        judge = OpenAIJudge("gpt-4o", base_url=server.url, api_key=KEY, retries=retries,
                            concurrency=concurrency, timeout=2.0, backoff_base=0.05,
                            backoff_cap=1.0, cache=False)
        started = time.monotonic()
        try:
            judge_file(str(source), str(out), judge,
                       JudgeOptions(template=load_template("mtbench-pair"), max_new_tokens=64),
                       progress=False, force=True)
        finally:
            judge.close()
        result.seconds = time.monotonic() - started
        log = list(server.log)
        served = Counter(server.served)
        attempts = Counter(server.attempts)
    result.http_requests = len(log)
    result.outcomes = Counter(outcome for _, _, outcome, _ in log)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in records]
    result.records, result.unique_ids = len(records), len(set(ids))
    result.in_order = ids == [r["id"] for r in rows]
    template = load_template("mtbench-pair")
    for record in records:
        judgment = record["judgment"]
        result.verdicts[str(judgment["verdict"])] += 1
        if judgment["error"] is not None:
            result.errors += 1
            result.errors_explained += f"gave up after {retries + 1} attempts" in \
                judgment["error"]
            result.made_up += judgment["verdict"] is not None
            continue
        # A verdict must rest on the server's answers to both orders, and be the right one.
        item = to_item(record, file="faults", line=1)
        answered = all(served[prompt_key(template.render(item, order))] >= 1
                       for order in ("AB", "BA"))
        result.made_up += judgment["verdict"] != "A" or not answered
    result.paid_twice = sum(1 for count in served.values() if count > 1)
    result.max_attempts = max(attempts.values())
    result.attempts_histogram = Counter(attempts.values())
    return result


# -- the table ---------------------------------------------------------------------------------
def kill_rows(r: KillResult) -> list[tuple[str, str]]:
    rows = [
        ("items", f"{r.items:,}"),
        ("kills landed (early, before any new line)", f"{r.kills} ({r.early})"),
        ("runs (kills + the last --resume)", str(r.runs)),
        ("torn tails seen after a kill (cut off by --resume)", str(r.torn_tails)),
        ("kills that left no valid JSONL prefix", str(r.bad_prefixes)),
        ("final records / unique ids", f"{r.final_ids:,} / {r.unique_ids:,}"),
        ("records identical to the uninterrupted run", f"{r.identical:,} of {r.items:,}"),
        ("torn lines in the final output", str(r.torn_lines)),
        ("seconds", f"{r.seconds:.0f}"),
    ]
    rows += [(key.replace("_", " "), str(value)) for key, value in r.extra.items()]
    return rows


def fault_rows(r: FaultResult) -> list[tuple[str, str]]:
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(r.outcomes.items(),
                                                         key=lambda kv: -kv[1]))
    histogram = ", ".join(f"{k}: {v:,}" for k, v in sorted(r.attempts_histogram.items()))
    return [
        ("requests (prompts) / HTTP attempts", f"{r.requests:,} / {r.http_requests:,}"),
        ("server outcomes", outcomes),
        ("records / unique ids / in input order", f"{r.records:,} / {r.unique_ids:,} / "
                                                  f"{'yes' if r.in_order else 'NO'}"),
        ("verdicts", ", ".join(f"{k} {v:,}" for k, v in sorted(r.verdicts.items()))),
        ("errors (gave up after retries + 1 attempts)", f"{r.errors} ({r.errors_explained})"),
        ("made-up verdicts", str(r.made_up)),
        ("prompts answered twice (paid twice)", str(r.paid_twice)),
        (f"most attempts at one prompt (budget {r.retries + 1})", str(r.max_attempts)),
        ("attempts per prompt", histogram),
        ("seconds", f"{r.seconds:.0f}"),
    ]


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI sizes")
    parser.add_argument("--only", choices=("kill-local", "kill-api", "faults"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="work in this folder and keep it")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    parts = [args.only] if args.only else ["kill-local", "kill-api", "faults"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s); sizes: {size}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "kill-local" in parts:
            from tiny_judge import save_tiny_judge

            judge = save_tiny_judge(work / "tiny-judge")
            result = kill_local(work, judge, size["local_items"], size["local_kills"],
                                args.seed)
            print_table("kill -9 and --resume, tiny local judge", kill_rows(result))
        if "kill-api" in parts:
            result = kill_api(work, size["api_items"], size["api_kills"], args.seed)
            print_table("kill -9 and --resume, API judge + cache (10% 429, 5% 500)",
                        kill_rows(result))
        if "faults" in parts:
            faults = fault_campaign(work, size["fault_requests"], seed=args.seed)
            print_table("API faults: 20% 429, 5% 5xx, 2% timeouts, 1% malformed",
                        fault_rows(faults))


if __name__ == "__main__":
    main()
