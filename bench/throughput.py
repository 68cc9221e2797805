"""Throughput of judgecli's score mode against the bare model and a JudgeLM-style loop.

    python bench/throughput.py [--quick] [--device cpu|cuda] [--size 25m|7b] [--pairs N]
                               [--no-swap] [--judge-folder DIR] [--loop-items N]

Builds a Llama-architecture judge with random weights (nothing is downloaded), draws pairs
whose prompt lengths follow JudgeLM's validation set (about 300 to 700 tokens), and measures
in one run, model loading excluded:

1. judgecli judging them end to end: JSONL in, JSONL out, score mode, swap on (``--no-swap``:
   one order per pair, in all three measurements);
2. the bare model: batched forward passes over exactly the same token batches, last-position
   logits only (the floor any judge must pay);
3. a JudgeLM-style loop: one item and one order at a time, ``generate`` until the newline, as
   baaivision/JudgeLM judgelm/llm_judge/gen_model_judgement.py does with --if-fast-eval 1.

``--judge-folder DIR`` keeps the judge there (built only where DIR holds none yet), so runs
after the first skip the build (the 7B judge is ~13 GB in bf16); bench/explain.py reuses it
too. ``--loop-items N``: how many items the JudgeLM-style loop judges (default: a quarter of
the pairs on a CPU, at most 200 on a GPU); its time is scaled up to all the pairs.

The last line is ``judge_vs_forward=R1 judge_vs_loop=R2 pairs_per_s=P``. Ratios are measured
in the same run, so they hold on a noisy machine; absolute times mean something on a GPU only.
The line before it gives the model FLOP utilisation: the model's FLOPs in judgecli's run
(2 x non-embedding parameters per prompt token, plus causal attention's 2 x layers x hidden
x length^2 per prompt) per second, against the matmul rate this device measures in the same
run (bf16 on a GPU, fp32 on a CPU).

On one H200 (what issue 7 asks for: P >= 50 pairs/s with swap off, R2 >= 10, MFU >= 40%):

    python bench/throughput.py --quick --size 7b --no-swap --judge-folder /tmp/judge-7b
    python bench/throughput.py --quick --size 7b --judge-folder /tmp/judge-7b
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SIZES = {
    # ~27M parameters: a CPU-sized model.
    "25m": dict(vocab=8000, hidden=512, layers=6, heads=8, kv_heads=8, intermediate=1408),
    # Llama-2-7B shapes (bf16 on a GPU).
    "7b": dict(vocab=32000, hidden=4096, layers=32, heads=32, kv_heads=32, intermediate=11008),
}


def make_words(rng: random.Random, n: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 8))) for _ in range(n)]


def ensure_judge(size: str, device: str, folder: Path) -> None:
    """Build the judge into ``folder`` unless a finished build is there (words.json is
    written last)."""
    if (folder / "words.json").exists():
        print(f"judge: reusing {folder}", flush=True)
        return
    t = time.perf_counter()
    build_judge(size, device, folder)
    print(f"judge: built {size} into {folder} in {time.perf_counter() - t:.1f} s", flush=True)


def build_judge(size: str, device: str, folder: Path) -> None:
    import torch
    from tiny_judge import CORPUS, build_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    spec = SIZES[size]
    rng = random.Random(0)
    words = make_words(rng, 3000)
    corpus = CORPUS + [" ".join(rng.choice(words) for _ in range(60)) for _ in range(3000)]
    tokenizer = build_tokenizer(vocab_size=min(spec["vocab"], 8000), corpus=corpus)
    config = LlamaConfig(vocab_size=spec["vocab"], hidden_size=spec["hidden"],
                         intermediate_size=spec["intermediate"],
                         num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
                         num_key_value_heads=spec["kv_heads"], max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device("cuda" if device == "cuda" else "cpu"):
        model = LlamaForCausalLM(config).to(dtype)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "words.json").write_text(json.dumps(words))


def matmul_rate(device: str) -> float:
    """FLOP/s of large square matmuls on this device, in the dtype judges run in there."""
    import torch

    dtype, size, repeats = (torch.bfloat16, 8192, 20) if device == "cuda" else \
        (torch.float32, 1024, 10)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(3):
        a @ b  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * size ** 3 * repeats / best


def model_flops(model, lengths: list[int]) -> float:
    """Forward FLOPs over prompts of these lengths: the weights' matmuls (2 per parameter per
    token, embeddings excluded; the head runs on one position only) and causal attention
    (scores and weighted sum: 2 x 2 x hidden x length^2 / 2 per layer)."""
    config = model.config
    tables = {id(m.weight): m.weight.numel() for m in (
        model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}
    weights = sum(p.numel() for p in model.parameters()) - sum(tables.values())  # tied: once
    attention = 2 * config.num_hidden_layers * config.hidden_size
    return float(sum(2 * weights * n + attention * n * n for n in lengths))


def make_pairs(folder: Path, n: int, seed: int = 1) -> list[dict]:
    """Pairs whose rendered judgelm-pair prompts are ~300-700 tokens long."""
    from transformers import AutoTokenizer

    from judgecli import load_template
    from judgecli.io.records import to_item

    tokenizer = AutoTokenizer.from_pretrained(folder)
    words = json.loads((folder / "words.json").read_text())
    template = load_template("judgelm-pair")
    rng = random.Random(seed)
    empty = to_item({"question": "", "answer_a": "", "answer_b": ""}, file="", line=1)
    overhead = len(tokenizer(template.render(empty).text).input_ids)
    probe = " ".join(rng.choice(words) for _ in range(400))
    per_word = len(tokenizer(probe, add_special_tokens=False).input_ids) / 400
    pairs = []
    for i in range(n):
        target = rng.triangular(300, 700, 450)  # JudgeLM val prompts: most near 400-500
        budget = max(30, int((target - overhead) / per_word))
        q = max(5, budget // 6)
        a = rng.randint((budget - q) // 3, 2 * (budget - q) // 3)
        b = budget - q - a
        pairs.append({"id": i, "question": " ".join(rng.choice(words) for _ in range(q)) + "?",
                      "answer_a": " ".join(rng.choice(words) for _ in range(a)),
                      "answer_b": " ".join(rng.choice(words) for _ in range(b))})
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (CI-sized)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--size", choices=sorted(SIZES), default=None)
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-swap", action="store_true",
                        help="judge one order per pair (issue 7's GPU target is swap off)")
    parser.add_argument("--judge-folder", type=Path, default=None,
                        help="keep the judge here, built only if missing (default: a new "
                             "temporary folder)")
    parser.add_argument("--loop-items", type=int, default=None,
                        help="items the JudgeLM-style loop judges (its time is scaled to all)")
    args = parser.parse_args()

    import torch

    from judgecli import JudgeOptions, Judging, Request, judge_file, load_judge, load_template
    from judgecli.io.records import to_item

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = args.size or ("7b" if device == "cuda" else "25m")
    n = args.pairs or (16 if args.quick else 48) * (40 if device == "cuda" else 1)
    if device == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    work = Path(tempfile.mkdtemp(prefix="judgecli-bench-"))
    folder = args.judge_folder or work / f"judge-{size}"
    ensure_judge(size, device, folder)
    pairs = make_pairs(folder, n)
    src = work / "pairs.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in pairs))

    t_load = time.perf_counter()
    judge = load_judge(str(folder), device=device, batch_size=args.batch_size)
    print(f"judge: loaded in {time.perf_counter() - t_load:.1f} s", flush=True)
    swap = not args.no_swap
    options = JudgeOptions(template=load_template("judgelm-pair"), mode="score", swap=swap)
    window = judge.preferred_batch() * 4
    judging = Judging(judge, options)
    items = [to_item(p, file="pairs", line=i + 1) for i, p in enumerate(pairs)]
    # The exact token batches judgecli runs: per window, the requests' prompts, planned the
    # way the backend plans them.
    batches = []
    for start in range(0, len(items), window):
        requests = [r for it in items[start:start + window] for r in judging.requests(it)]
        encoded = [judge.encode(r) for r in requests]
        batches += [[encoded[i] for i in plan] for plan in judge.plan_batches(encoded)]
    tokens = sum(len(ids) for batch in batches for ids in batch)
    model = judge.model

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def run_judgecli() -> float:
        out = work / "out.jsonl"
        sync()
        t = time.perf_counter()
        judge_file(str(src), str(out), judge, options, force=True, progress=False, window=window)
        sync()
        return time.perf_counter() - t

    def run_forward() -> float:
        sync()
        t = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                input_ids, mask = judge._pad(batch)
                model(input_ids=input_ids, attention_mask=mask, logits_to_keep=1)
        sync()
        return time.perf_counter() - t

    tokenizer = judge.tokenizer

    def run_loop(limit: int) -> float:
        from transformers import StoppingCriteria

        class StopAtNewline(StoppingCriteria):  # JudgeLM's KeywordsStoppingCriteria(["\n"])
            def __init__(self, start: int) -> None:
                self.start = start

            def __call__(self, output_ids, scores, **kwargs) -> bool:
                return "\n" in tokenizer.decode(output_ids[0, self.start:],
                                                skip_special_tokens=True)

        sync()
        t = time.perf_counter()
        with torch.inference_mode():
            for it in items[:limit]:
                for order in ("AB", "BA") if swap else ("AB",):
                    ids = torch.tensor([judge.encode(Request(
                        prompt=options.template.render(it, order)))], device=model.device)
                    # A trained JudgeLM writes "s1 s2\n": about five tokens in fast-eval mode.
                    model.generate(ids, do_sample=False, max_new_tokens=5,
                                   stopping_criteria=[StopAtNewline(ids.shape[1])],
                                   pad_token_id=judge.pad_id)
        sync()
        return (time.perf_counter() - t) * len(items) / limit

    run_forward()  # warm-up (kernels, allocator)
    judge_times, forward_times = [], []
    for _ in range(args.repeats):
        judge_times.append(run_judgecli())
        forward_times.append(run_forward())
    loop_items = args.loop_items or (max(4, n // 4) if device == "cpu" else min(n, 200))
    loop_time = run_loop(min(n, loop_items))
    t_judge, t_forward = min(judge_times), min(forward_times)
    params = sum(p.numel() for p in model.parameters())
    prompts = sum(len(batch) for batch in batches)
    rows = [(f"judgecli (score mode, swap {'on' if swap else 'off'}, JSONL in/out)", t_judge),
            ("bare forward, same batches, last logits", t_forward),
            ("JudgeLM-style loop (1 item, 1 order, generate)", loop_time)]
    print(f"\nmodel {size} ({params / 1e6:.1f}M params) on {device}; {n} pairs, "
          f"{prompts} prompts, {tokens} prompt tokens ({tokens / prompts:.0f} per prompt), "
          f"{len(batches)} batches of {prompts / len(batches):.1f} prompts on average; "
          f"judgecli runs {', '.join(f'{t:.2f}' for t in judge_times)} s, forward runs "
          f"{', '.join(f'{t:.2f}' for t in forward_times)} s; loop timed on "
          f"{min(n, loop_items)} items")
    print(f"{'what':50s} {'seconds':>9s} {'pairs/s':>9s}")
    for name, seconds in rows:
        print(f"{name:50s} {seconds:9.2f} {n / seconds:9.2f}")
    achieved = model_flops(model, [len(ids) for batch in batches for ids in batch]) / t_judge
    rate = matmul_rate(device)
    print(f"model FLOP/s in judgecli: {achieved / 1e12:.3f} TFLOP/s; measured matmul rate "
          f"{rate / 1e12:.3f} TFLOP/s; MFU={achieved / rate:.3f}")
    print(f"judge_vs_forward={t_forward / t_judge:.3f} judge_vs_loop={loop_time / t_judge:.2f} "
          f"pairs_per_s={n / t_judge:.2f}")


if __name__ == "__main__":
    main()
