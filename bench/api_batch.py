"""``--batch`` on 2,000 items (issue 17 item 2): a run through a loopback Batch API, its cost
line beside a synchronous run's on the same items, and what a second run costs.

    python bench/api_batch.py                  # 2,000 items (4,000 requests with swap)
    python bench/api_batch.py --items 500 --limit 1000

The Batch API is tests/batch_server.py (a thread of this process; each batch ends after
``--polls`` polls), the synchronous API tests/fault_server.py (no latency); ``judgecli
judge`` runs as its own process, polling every ``--poll`` seconds. ``--limit`` makes the
requests per file that small, so the run is split into several batches. Printed: each
run's wall time and last stderr lines (the cost line), the requests uploaded, files and
batches created, and whether the batch run's records equal the synchronous run's. Nothing
leaves 127.0.0.1; no timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from batch_server import BatchServer  # noqa: E402
from fault_server import FaultServer  # noqa: E402

COST = re.compile(r"cost \$(\d+\.\d{4})")


def items(n: int) -> list[dict[str, object]]:
    return [{"id": i, "question": f"Which answer is better? ITEM-{i} " + "context " * 40,
             "answer_a": ("GOOD" if i % 3 else "BAD") + " answer, " + "words " * 60,
             "answer_b": ("BAD" if i % 3 else "GOOD") + " answer, " + "words " * 60}
            for i in range(n)]


def run(tmp: Path, url: str, out: str, *args: str, poll: float = 0.2,
        limit: int | None = None) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-bench", JUDGECLI_CACHE_DIR=str(tmp / "cache"),
               JUDGECLI_BATCH_POLL=str(poll))
    code = ["-c", "import sys, judgecli.backends.openai.batch as b; "
            f"b.MAX_REQUESTS = {limit}; from judgecli.cli.commands import main; "
            "sys.argv[0] = 'judgecli'; main()"] if limit else ["-m", "judgecli"]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *code, "judge", str(tmp / "in.jsonl"), "--judge",
                           "openai:gpt-4o-mini", "-t", "mtbench-pair", "--base-url", url,
                           "-o", str(tmp / out), "--force", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"judgecli failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--limit", type=int, default=None, help="requests per batch file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items(args.items)))
        with FaultServer() as sync_server:
            sync_s, sync_err = run(tmp, sync_server.url, "sync.jsonl", "--no-cache")
        with BatchServer(polls=args.polls) as server:
            batch_s, batch_err = run(tmp, server.url, "batch.jsonl", "--batch",
                                     poll=args.poll, limit=args.limit)
            again_s, again_err = run(tmp, server.url, "again.jsonl", "--batch",
                                     poll=args.poll, limit=args.limit)
            uploads, batches, sent = len(server.uploads), len(server.batches), \
                len(server.sent())
        same = (tmp / "sync.jsonl").read_text() == (tmp / "batch.jsonl").read_text()
        again_same = (tmp / "again.jsonl").read_text() == (tmp / "batch.jsonl").read_text()
    sync_cost = float(COST.findall(sync_err)[-1])
    batch_cost = float(COST.findall(batch_err)[-1])
    print(f"{args.items:,} items, mtbench-pair with swap, openai:gpt-4o-mini, "
          f"{args.polls} polls a batch every {args.poll:g} s")
    print(f"synchronous: {sync_s:6.2f} s  | {sync_err.strip().splitlines()[-1]}")
    print(f"batch:       {batch_s:6.2f} s  | " + "\n" + "\n".join(
        "    " + line for line in batch_err.strip().splitlines()[-3:]))
    print(f"again:       {again_s:6.2f} s  | {again_err.strip().splitlines()[-1]}")
    print(f"uploaded {sent:,} request line(s) in {uploads} file(s), {batches} batch(es) "
          f"created (the second run: none)")
    print(f"cost: batch ${batch_cost:.4f} = {batch_cost / sync_cost:.3f} x synchronous "
          f"${sync_cost:.4f}; batch records identical to synchronous: {same}; "
          f"second run identical: {again_same}")


if __name__ == "__main__":
    main()
