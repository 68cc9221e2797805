"""vLLM against transformers on the same judge and prompts: explain and score mode, items/s.

    python bench/vllm_vs_hf.py [--size 25m|7b] [--pairs N] [--max-new-tokens N]
                               [--batch-size N] [--judge-folder DIR] [--vllm-arg KEY=VALUE]

Builds (or reuses, ``--judge-folder``) the random-weight Llama judge of bench/throughput.py
(25m: 27M parameters, heads of 64; 7b: Llama-2-7B shapes, bf16 on a GPU), draws its
JudgeLM-shaped pairs (prompts of 300 to 700 tokens, about 480 on average) and judges them
with swap off, template judgelm-pair, through judgecli's ``Judging`` with each engine:

* transformers: ``--judge FOLDER`` (explain: batched greedy ``generate``, ``--batch-size``
  prompts a batch, default 8 on a CPU, sized to the GPU's memory there; score: judgecli's
  batched forward and cached restricted steps);
* vLLM: ``--judge vllm:FOLDER`` (the same token ids through ``LLM.generate``).

transformers first, then vLLM (on a CPU vLLM's engine runs in this process and binds its
threads, which would slow transformers after it); vLLM's engine start is timed apart (it is
paid once per run). Each mode is timed ``--repeats`` times (the median counts) after a
warm-up pass over the same items (vLLM compiles its model for each new batch shape); each
line gives the load average, since on a shared machine the two phases may meet different
loads.
Random weights seldom write the end-of-sequence token, so explain replies run to
``--max-new-tokens`` (the line says how many tokens vLLM wrote). The outputs are compared:
explain texts equal (of all) and, of the characters transformers wrote, those before the
first one where vLLM's text differs; score verdicts equal and the largest
difference of a verdict's probability. On a GPU both engines share it: vLLM is given 40% of
its memory (``gpu_memory_utilization``; ``--vllm-arg`` says otherwise), transformers sizes
its batches to half of what was free after loading its copy.

The last lines hold the ratios measured in this run:
``explain_ratio=R score_ratio=R`` (vLLM items/s over transformers items/s), then as JSON.

On a GPU (bench/RESULTS.md): ``python bench/vllm_vs_hf.py --size 7b --pairs 256
--max-new-tokens 256 --judge-folder /tmp/judge-7b``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import SIZES, ensure_judge, make_pairs  # noqa: E402


def timed(judging, items) -> tuple[list[dict], float]:
    t = time.perf_counter()
    records = judging.judge_items(items)
    return records, time.perf_counter() - t


def agreeing_characters(texts: list[tuple[str, str]]) -> tuple[int, int]:
    """Of the characters transformers wrote, how many come before the first one where
    vLLM's text differs: greedy decoding agrees up to there."""
    shared = total = 0
    for a, b in texts:
        total += len(a)
        shared += next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return shared, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default=None)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="transformers' prompts a batch (default: its own)")
    parser.add_argument("--judge-folder", type=Path, default=None,
                        help="keep the judge here, built only if missing")
    parser.add_argument("--vllm-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="a vllm.LLM argument, as judgecli's --vllm-arg")
    parser.add_argument("--modes", default="explain,score")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed passes per engine and mode (the median counts)")
    args = parser.parse_args()

    import torch

    from judgecli import JudgeOptions, Judging, load_judge, load_template
    from judgecli.cli.options import parse_engine_args
    from judgecli.io.records import to_item

    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = args.size or ("7b" if device == "cuda" else "25m")
    folder = args.judge_folder or Path(tempfile.mkdtemp(prefix="judgecli-vllm-bench-"))
    ensure_judge(size, device, folder)
    items = [to_item(p, file="bench", line=n) for n, p in enumerate(
        make_pairs(folder, args.pairs), start=1)]
    template = load_template("judgelm-pair")
    modes = args.modes.split(",")
    print(f"device={device} size={size} items={len(items)} threads={torch.get_num_threads()} "
          f"max_new_tokens={args.max_new_tokens}", flush=True)

    def measure(judge) -> dict[str, tuple[list[dict], float]]:
        out = {}
        for mode in modes:
            options = JudgeOptions(template=template, mode=mode, swap=False,
                                   max_new_tokens=args.max_new_tokens)
            judging = Judging(judge, options)
            judging.judge_items(items)  # warm-up: vLLM compiles for each new batch shape
            runs = [timed(judging, items) for _ in range(args.repeats)]
            out[mode] = runs[0][0], statistics.median(t for _, t in runs)
            print(f"  {mode}: {', '.join(f'{t:.1f} s' for _, t in runs)} (load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
        return out

    # One engine after the other: vLLM's CPU engine runs in this process (``_all_cores``)
    # and binds its threads, which would slow transformers after it.
    t = time.perf_counter()
    hf_judge = load_judge(str(folder), batch_size=args.batch_size)
    print(f"transformers: loaded in {time.perf_counter() - t:.1f} s", flush=True)
    hf = measure(hf_judge)
    hf_judge.close()
    engine_args = parse_engine_args(args.vllm_arg)
    if device == "cuda":
        engine_args.setdefault("gpu_memory_utilization", 0.4)  # transformers holds a copy
    t = time.perf_counter()
    vllm_judge = load_judge(f"vllm:{folder}", vllm_args=engine_args)
    print(f"vLLM: engine started in {time.perf_counter() - t:.1f} s", flush=True)
    vllm = measure(vllm_judge)
    vllm_judge.close()
    ratios: dict[str, float] = {}
    n = len(items)
    for mode in modes:
        (r_hf, t_hf), (r_vllm, t_vllm) = hf[mode], vllm[mode]
        tokens = sum(r["judgment"].get("usage", {}).get("completion_tokens", 0)
                     for r in r_vllm)
        if mode == "explain":
            texts = [(a["judgment"]["orders"][0]["text"], b["judgment"]["orders"][0]["text"])
                     for a, b in zip(r_hf, r_vllm, strict=True)]
            same = sum(a == b for a, b in texts)
            shared, total = agreeing_characters(texts)
            check = (f"texts_equal={same}/{n} characters_before_any_divergence="
                     f"{shared}/{total} vllm_tokens_written={tokens}")
        else:
            same = sum(a["judgment"]["verdict"] == b["judgment"]["verdict"]
                       for a, b in zip(r_hf, r_vllm, strict=True))
            gap = max(abs(a["judgment"]["confidence"] - b["judgment"]["confidence"])
                      for a, b in zip(r_hf, r_vllm, strict=True))
            check = f"verdicts_equal={same}/{n} max_confidence_gap={gap:.2e}"
        ratios[mode] = t_hf / t_vllm
        print(f"{mode}: transformers {n / t_hf:.2f} items/s ({t_hf:.1f} s), vLLM "
              f"{n / t_vllm:.2f} items/s ({t_vllm:.1f} s), ratio {t_hf / t_vllm:.2f}; "
              f"{check}", flush=True)
    print(" ".join(f"{mode}_ratio={ratio:.2f}" for mode, ratio in ratios.items()))
    print(json.dumps({"ratios": ratios}))


if __name__ == "__main__":
    main()
