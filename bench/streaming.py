"""Streaming memory: judge, then report, N records; is peak memory flat in N?

    python bench/streaming.py                      # 10,000 and 1,000,000 records
    python bench/streaming.py --sizes 1000 20000   # a quick look

For each size it writes N pairwise items, judges them with a tiny local Llama judge
(tests/tiny_judge.py; score mode, swap on) and reports the judgments, each command in its
own process, and records that process's peak resident memory (``ru_maxrss``). The prompt is
a short template (``bench/short-pair.json``) so that a million items take minutes on a CPU:
what is measured is the pipeline's memory, not the model's speed. The last line is
``judge_peak_ratio=R report_peak_ratio=R`` (largest size's peak / smallest size's peak; the
target is at most 1.5).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from tiny_judge import save_tiny_judge  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent / "short-pair.json"
WORDS = ("alpha", "beta", "gamma", "delta", "echo", "fox", "golf", "hotel", "india", "kilo")

# Runs a command and prints its peak resident memory in KiB (Linux ru_maxrss of children).
_MEASURE = ("import resource, subprocess, sys; "
            "code = subprocess.run(sys.argv[1:]).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(code)")


def write_items(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
            b = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
            out.write(json.dumps({"id": i, "question": f"Q{i}?", "answer_a": a,
                                  "answer_b": b, "label": rng.choice("AB")}) + "\n")


def peak(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one command run in a child process."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True,
                          text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--keep", help="keep the files in this folder")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="judgecli-streaming-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        judge = save_tiny_judge(folder / "tiny")
        for n in sorted(args.sizes):
            items, judged = folder / f"items-{n}.jsonl", folder / f"judged-{n}.jsonl"
            write_items(items, n)
            judge_mb, judge_s = peak([sys.executable, "-m", "judgecli", "judge", str(items),
                                      "--judge", str(judge), "-t", str(TEMPLATE), "-o",
                                      str(judged), "--force", "-q", "--batch-size",
                                      str(args.batch_size)])
            report_mb, report_s = peak([sys.executable, "-m", "judgecli", "report",
                                        str(judged), "--json"])
            with open(judged, "rb") as handle:
                lines = sum(1 for _ in handle)
            assert lines == n, f"{lines} records for {n} items"
            rows.append((n, judge_mb, judge_s, report_mb, report_s, judged.stat().st_size))
            print(f"{n:>10,} records: judge peak {judge_mb:7.1f} MB in {judge_s:7.1f} s; "
                  f"report peak {report_mb:7.1f} MB in {report_s:6.1f} s", flush=True)
    print()
    print("| records | output MB | judge peak MB | judge s | items/s | report peak MB | report s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, judge_mb, judge_s, report_mb, report_s, size in rows:
        print(f"| {n:,} | {size / 1e6:.0f} | {judge_mb:.0f} | {judge_s:.0f} | "
              f"{n / judge_s:.0f} | {report_mb:.0f} | {report_s:.1f} |")
    first, last = rows[0], rows[-1]
    print(f"judge_peak_ratio={last[1] / first[1]:.3f} report_peak_ratio={last[3] / first[3]:.3f}")


if __name__ == "__main__":
    main()
