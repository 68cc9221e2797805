"""How soon the first record reaches stdout, against how soon its replies come back
(issue 26 item 2): records are written item by item, in input order, so the first line
should follow the first item's two replies, not its window's last reply.

    python bench/first_record.py [--items 400] [--concurrency 16] [--latency 0.1]

Starts a loopback OpenAI-compatible server (tests/fault_server.py; nothing leaves
127.0.0.1), runs ``judgecli judge ITEMS -t mtbench-pair`` with its stdout on a pipe, and
reads lines as they come. For each of the first records it prints when the line arrived and
when its item's last reply was sent (both from the judge's start), and the last line gives
``first_record_s``, ``first_replies_s`` (the first item's two replies) and their ratio; the
whole run's time is there for scale (a window at a time, the first line came only after the
first window's 4 x concurrency items).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    from fault_server import FaultServer

    work = Path(tempfile.mkdtemp(prefix="judgecli-first-"))
    source = work / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "question": f"ITEM-{i} q", "answer_a":
                                          "GOOD", "answer_b": "BAD"}) + "\n"
                              for i in range(args.items)))
    env = dict(os.environ, OPENAI_API_KEY="sk-bench", JUDGECLI_CACHE_DIR=str(work / "c"))
    env.pop("OPENAI_BASE_URL", None)
    with FaultServer(latency=args.latency, max_requests=10 * args.items) as server:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "judgecli", "judge", str(source), "--judge",
             "openai:gpt-4o", "--base-url", server.url, "-t", "mtbench-pair", "-q",
             "--no-cache", "--concurrency", str(args.concurrency)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None
        arrived = []
        for line in proc.stdout:
            arrived.append((json.loads(line)["id"], time.monotonic()))
        proc.wait()
        total = time.monotonic() - started
        log = list(server.log)
    # A reply leaves the server ``latency`` after its request arrived (the log's time).
    replied: dict[str, float] = {}
    for t, tag, outcome, _ in log:
        if outcome == "ok":
            replied[tag] = max(replied.get(tag, 0.0), t + args.latency)
    print(f"{'item':>5} {'line at (s)':>12} {'last reply at (s)':>18}")
    for item, at in arrived[:5]:
        print(f"{item:>5} {at - started:12.3f} {replied[str(item)] - started:18.3f}")
    first_record = arrived[0][1] - started
    first_replies = replied[str(arrived[0][0])] - started
    print(f"items {args.items}, concurrency {args.concurrency}, latency {args.latency} s; "
          f"whole run {total:.2f} s, {len(arrived)} records")
    print(f"first_record_s={first_record:.3f} first_replies_s={first_replies:.3f} "
          f"ratio={first_record / first_replies:.2f}")


if __name__ == "__main__":
    main()
