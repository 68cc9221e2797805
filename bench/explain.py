"""Throughput of judgecli's explain mode: a local judge writes its whole judgment (``generate``).

    python bench/explain.py [--device cpu|cuda] [--size 25m|7b] [--pairs N] [--swap]
                            [--max-new-tokens N] [--batch-size N] [--judge-folder DIR]

Builds the random-weight Llama judge of bench/throughput.py (or reuses it: ``--judge-folder``,
built only where the folder holds none yet), draws the same JudgeLM-shaped pairs (prompts of
about 300 to 700 tokens), and times judgecli's ``judge_file`` on them in explain mode, model
loading and a short warm-up excluded: template judgelm-pair, greedy ``generate`` through
transformers with judgecli's own batching (on a GPU, batches sized by tokens to half the free
memory, each row counted at its prompt plus ``--max-new-tokens``; on a CPU, 8 prompts), swap
off unless ``--swap``. Explain mode runs on transformers only here: vLLM is not used.

Random weights rarely write the end-of-sequence token, so nearly every reply runs to
``--max-new-tokens``: the figure is the worst case per item, and the replies do not parse
(each record carries a parse error; that costs nothing measurable). The line before the last
says how many replies ran to the limit.

The last line is ``items_per_s=I new_tokens_per_s=T``: items judged per second and tokens
generated per second (the replies' tokens, padding after an end-of-sequence not counted).

On one H200 (issue 25):

    python bench/explain.py --size 7b --pairs 128 --judge-folder /tmp/judge-7b
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--size", choices=sorted(SIZES), default=None)
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--swap", action="store_true", help="judge both orders of each pair")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--judge-folder", type=Path, default=None,
                        help="keep the judge here, built only if missing")
    args = parser.parse_args()

    import torch

    from judgecli import JudgeOptions, Judging, judge_file, load_judge, load_template
    from judgecli.io.records import to_item

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = args.size or ("7b" if device == "cuda" else "25m")
    n = args.pairs or (128 if device == "cuda" else 8)
    work = Path(tempfile.mkdtemp(prefix="judgecli-explain-"))
    folder = args.judge_folder or work / f"judge-{size}"
    ensure_judge(size, device, folder)
    pairs = make_pairs(folder, n)
    src = work / "pairs.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    warm = work / "warm.jsonl"
    warm.write_text("".join(json.dumps(p) + "\n" for p in pairs[:4]))

    t = time.perf_counter()
    judge = load_judge(str(folder), device=device, batch_size=args.batch_size)
    print(f"judge: loaded in {time.perf_counter() - t:.1f} s", flush=True)
    options = JudgeOptions(template=load_template("judgelm-pair"), mode="explain",
                           swap=args.swap, max_new_tokens=args.max_new_tokens)
    window = judge.preferred_batch() * 4

    # The batches judgecli will run, planned the way the backend plans them (per window).
    judging = Judging(judge, options)
    items = [to_item(p, file="pairs", line=i + 1) for i, p in enumerate(pairs)]
    sizes, tokens = [], 0
    for start in range(0, len(items), window):
        requests = [r for it in items[start:start + window] for r in judging.requests(it)]
        encoded = [judge.encode(r) for r in requests]
        tokens += sum(len(ids) for ids in encoded)
        sizes += [len(plan) for plan in
                  judge.plan_batches(encoded, [r.max_new_tokens for r in requests])]
    prompts = sum(sizes)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    # Warm-up: kernels, allocator, generate's first call.
    judge_file(str(warm), str(work / "warm-out.jsonl"), judge,
               JudgeOptions(template=options.template, mode="explain", swap=args.swap,
                            max_new_tokens=8),
               force=True, progress=False, window=window)
    out = work / "out.jsonl"
    sync()
    t = time.perf_counter()
    summary = judge_file(str(src), str(out), judge, options, force=True, progress=False,
                         window=window)
    sync()
    seconds = time.perf_counter() - t

    # Each record's usage sums its orders' replies; a reply at the limit has max_new_tokens.
    counts = [json.loads(line)["judgment"].get("usage", {}).get("completion_tokens", 0)
              for line in out.read_text().splitlines()]
    new_tokens = sum(counts)
    full = args.max_new_tokens * len(options.orders(items[0]))
    at_limit = sum(1 for c in counts if c == full)
    params = sum(p.numel() for p in judge.model.parameters())
    print(f"\nmodel {size} ({params / 1e6:.1f}M params) on {device}; explain mode, swap "
          f"{'on' if args.swap else 'off'}, max_new_tokens={args.max_new_tokens}; {n} pairs, "
          f"{prompts} prompts, {tokens} prompt tokens ({tokens / max(1, prompts):.0f} per "
          f"prompt), {len(sizes)} batches of {', '.join(map(str, sizes))} prompts")
    print(f"judged {summary.judged} (errors {summary.errors}: replies with no verdict) in "
          f"{seconds:.2f} s; {new_tokens} tokens generated, "
          f"{new_tokens / max(1, prompts):.1f} per reply; {at_limit} of {n} items ran every "
          f"reply to the limit")
    print(f"items_per_s={n / seconds:.3f} new_tokens_per_s={new_tokens / seconds:.1f}")


if __name__ == "__main__":
    main()
