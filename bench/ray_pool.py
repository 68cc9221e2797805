"""``--ray``: a pool of Ray actors against one process, on the same cores, in one run
(issue 23 item 4).

    python bench/ray_pool.py [--items 600] [--actors 2] [--hidden 256] [--layers 4] [--rounds 3]

Builds a small random Llama judge (tests/tiny_judge.py; nothing is downloaded) and judges
the same pairwise items (score mode, both orders, --batch-size 8) four ways, timing only
the judging (``judge_file``), each model already loaded:

- ``one process, N threads``: the judge in this process with torch on N threads (N =
  --actors: the cores the pool gets);
- ``one process, 1 thread``: the same on one thread, what each actor is;
- ``Ray pool of N``: a local Ray cluster of N one-CPU nodes (``ray.cluster_utils``), one
  actor each, windows handed to whichever is free;
- ``Ray pool of 1``: one actor: against the one-thread process, what Ray costs per window
  (sending the requests, returning the completions).

Each pool's rounds are interleaved with the one-process runs (``--rounds``; the medians are
compared), so that a busy spell of the machine falls on both. Prints each time, the ratios
of the medians, and whether the pool's output is byte for byte the
one-thread process's (each actor runs one thread, so its sums are the same). The start of
the cluster and of the actors (loading the judge in each) is printed apart: it is paid once
a run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=600)
    parser.add_argument("--actors", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch
    from ray.cluster_utils import Cluster
    from tiny_judge import save_tiny_judge

    from judgecli.backends import load_judge
    from judgecli.judging.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    work = Path(tempfile.mkdtemp(prefix="judgecli-ray-"))
    judge_dir = save_tiny_judge(work / "judge", hidden=args.hidden, layers=args.layers,
                                intermediate=4 * args.hidden, heads=8, kv_heads=4)
    source = work / "in.jsonl"
    source.write_text("".join(json.dumps(
        {"id": i, "question": f"Question {i}: is {i} a prime number? " * (1 + i % 3),
         "answer_a": "yes " * (1 + i % 7), "answer_b": "no, because " * (1 + i % 5)}) + "\n"
        for i in range(args.items)))
    options = JudgeOptions(template=load_template("judgelm-pair"))

    def timed(judge: object, out: Path) -> float:
        started = time.perf_counter()
        judge_file(str(source), str(out), judge, options, progress=False,  # type: ignore[arg-type]
                   force=True)
        return time.perf_counter() - started

    from statistics import median

    results: dict[str, list[float]] = {}
    one = load_judge(str(judge_dir), batch_size=8)

    def one_process(threads: int, name: str) -> None:
        torch.set_num_threads(threads)
        results.setdefault(f"one process, {threads} thread(s)", []).append(
            timed(one, work / f"{name}.jsonl"))

    # The nodes' workers import this checkout's judgecli, each on one thread.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ["OMP_NUM_THREADS"] = "1"
    n = args.actors
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    setup: dict[str, float] = {}
    try:
        for _ in range(n - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        setup[f"cluster of {n} nodes"] = time.perf_counter() - started
        # Each pool in turn (a pool of n takes every CPU), its rounds interleaved with the
        # one-process runs they are compared with, so that a busy spell of the machine
        # falls on both.
        for actors in (n, 1):
            started = time.perf_counter()
            pool = load_judge(str(judge_dir), batch_size=8, ray=cluster.address,
                              ray_actors=actors)
            setup[f"pool of {actors}: connect, start, load"] = time.perf_counter() - started
            try:
                for _ in range(args.rounds):
                    one_process(1, "one-1")
                    if actors == n:
                        one_process(n, f"one-{n}")
                    results.setdefault(f"Ray pool of {actors}", []).append(
                        timed(pool, work / f"ray-{actors}.jsonl"))
            finally:
                pool.close()
    finally:
        cluster.shutdown()
        torch.set_num_threads(n)
        one.close()

    middle = {name: median(times) for name, times in results.items()}
    one_n, one_1 = middle[f"one process, {n} thread(s)"], middle["one process, 1 thread(s)"]
    pool_n, pool_1 = middle[f"Ray pool of {n}"], middle["Ray pool of 1"]
    print(f"{args.items} pairwise items, {2 * args.items} prompts; judge {args.layers} layers "
          f"x {args.hidden}; {n} cores; load average {os.getloadavg()[0]:.2f} at the end; "
          f"median of {args.rounds} interleaved rounds")
    for name, times in results.items():
        print(f"  {name:<28} {middle[name]:8.2f} s judging  "
              f"({', '.join(f'{t:.2f}' for t in times)})")
    for name, seconds in setup.items():
        print(f"  ({name}: {seconds:.1f} s, once a run)")
    print(f"pool of {n} / one process on {n} threads: {pool_n / one_n:.2f}x the time")
    print(f"pool of {n} / one process on 1 thread:  {pool_n / one_1:.2f}x the time")
    print(f"pool of 1 / one process on 1 thread:  {pool_1 / one_1:.3f}x the time "
          "(what Ray costs: sending each window, returning its completions)")
    same = all((work / f"ray-{a}.jsonl").read_bytes() == (work / "one-1.jsonl").read_bytes()
               for a in (n, 1))
    print(f"output of both pools byte for byte the one-thread process's: {same}")


if __name__ == "__main__":
    main()
