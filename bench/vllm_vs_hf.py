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

Each mode is timed after a warm-up on 2 items; loading is timed apart (vLLM's engine start
is paid once per run). Random weights seldom write the end-of-sequence token, so explain
replies run to ``--max-new-tokens`` (the line says how many tokens were written). The
outputs are compared: explain texts equal (of all), score verdicts equal and the largest
difference of a verdict's probability.

The last line holds the ratios measured in this run:
``explain_ratio=R score_ratio=R`` (vLLM items/s over transformers items/s).

On a GPU (bench/RESULTS.md): ``python bench/vllm_vs_hf.py --size 7b --pairs 256
--max-new-tokens 256 --judge-folder /tmp/judge-7b``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import SIZES, ensure_judge, make_pairs  # noqa: E402


def timed(judging, items) -> tuple[list[dict], float]:
    judging.judge_items(items[:2])  # warm-up
    t = time.perf_counter()
    records = judging.judge_items(items)
    return records, time.perf_counter() - t


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

    def run(spec: str, **options) -> dict[str, tuple[list[dict], float]]:
        t = time.perf_counter()
        judge = load_judge(spec, **options)
        print(f"{spec.split(':')[0] if spec.startswith('vllm:') else 'transformers'}: "
              f"loaded in {time.perf_counter() - t:.1f} s", flush=True)
        out = {}
        for mode in modes:
            options_ = JudgeOptions(template=template, mode=mode, swap=False,
                                    max_new_tokens=args.max_new_tokens)
            out[mode] = timed(Judging(judge, options_), items)
        judge.close()
        return out

    # transformers first: vLLM's CPU engine binds this process's threads once it starts.
    hf = run(str(folder), batch_size=args.batch_size)
    vllm = run(f"vllm:{folder}", vllm_args=parse_engine_args(args.vllm_arg))
    ratios = {}
    for mode in modes:
        (r_hf, t_hf), (r_vllm, t_vllm) = hf[mode], vllm[mode]
        n = len(items)
        tokens = sum(r["judgment"].get("usage", {}).get("completion_tokens", 0) for r in r_vllm)
        if mode == "explain":
            same = sum(a["judgment"]["orders"][0]["text"] == b["judgment"]["orders"][0]["text"]
                       for a, b in zip(r_hf, r_vllm, strict=True))
            check = f"texts_equal={same}/{n} vllm_tokens_written={tokens}"
        else:
            same = sum(a["judgment"]["verdict"] == b["judgment"]["verdict"]
                       for a, b in zip(r_hf, r_vllm, strict=True))
            gap = max(abs(a["judgment"]["confidence"] - b["judgment"]["confidence"])
                      for a, b in zip(r_hf, r_vllm, strict=True))
            check = f"verdicts_equal={same}/{n} max_confidence_gap={gap:.2e}"
        ratios[mode] = (n / t_vllm) / (n / t_hf)
        print(f"{mode}: transformers {n / t_hf:.2f} items/s ({t_hf:.1f} s), vLLM "
              f"{n / t_vllm:.2f} items/s ({t_vllm:.1f} s); {check}", flush=True)
    print(" ".join(f"{mode}_ratio={ratio:.2f}" for mode, ratio in ratios.items()))
    print(json.dumps({"ratios": ratios}))


if __name__ == "__main__":
    main()
