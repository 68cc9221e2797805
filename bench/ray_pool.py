"""``--ray``: a pool of Ray actors against one process, on the same cores, in one run
(issue 23 item 4).

    python bench/ray_pool.py [--items 600] [--actors 2] [--hidden 256] [--layers 4]

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

Prints each time, the ratios, and whether the pool's output is byte for byte the
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
        judge_file(str(source), str(out), judge, options, progress=False)  # type: ignore[arg-type]
        return time.perf_counter() - started

    results: dict[str, float] = {}
    for threads in (args.actors, 1):
        torch.set_num_threads(threads)
        with load_judge(str(judge_dir), batch_size=8) as judge:
            results[f"one process, {threads} thread(s)"] = timed(
                judge, work / f"one-{threads}.jsonl")

    # The nodes' workers import this checkout's judgecli, each on one thread.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ["OMP_NUM_THREADS"] = "1"
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    setup: dict[str, float] = {}
    try:
        for _ in range(args.actors - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        setup["cluster of %d nodes" % args.actors] = time.perf_counter() - started
        for actors in (args.actors, 1):
            started = time.perf_counter()
            judge = load_judge(str(judge_dir), batch_size=8, ray=cluster.address,
                               ray_actors=actors)
            setup[f"pool of {actors}: connect, start, load"] = time.perf_counter() - started
            try:
                results[f"Ray pool of {actors}"] = timed(judge, work / f"ray-{actors}.jsonl")
            finally:
                judge.close()
    finally:
        cluster.shutdown()

    n = args.actors
    one_n, one_1 = results[f"one process, {n} thread(s)"], results["one process, 1 thread(s)"]
    pool_n, pool_1 = results[f"Ray pool of {n}"], results["Ray pool of 1"]
    print(f"{args.items} pairwise items, {2 * args.items} prompts; judge {args.layers} layers "
          f"x {args.hidden}; {n} cores; load average {os.getloadavg()[0]:.2f} at the end")
    for name, seconds in results.items():
        print(f"  {name:<28} {seconds:8.2f} s judging")
    for name, seconds in setup.items():
        print(f"  ({name}: {seconds:.1f} s, once a run)")
    print(f"pool of {n} / one process on {n} threads: {pool_n / one_n:.2f}x the time")
    print(f"pool of {n} / one process on 1 thread:  {pool_n / one_1:.2f}x the time")
    print(f"pool of 1 / one process on 1 thread:  {pool_1 / one_1:.3f}x the time "
          "(Ray's cost per window, with the actor's own variation)")
    same = all((work / f"ray-{a}.jsonl").read_bytes() == (work / "one-1.jsonl").read_bytes()
               for a in (n, 1))
    print(f"output of both pools byte for byte the one-thread process's: {same}")


if __name__ == "__main__":
    main()
