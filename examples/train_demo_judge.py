"""Train the bundled demo judge: a tiny Llama that judges the synthetic task of demo_task.py
in JudgeLM's exact format, on CPU, in minutes, from a fixed seed.

    python examples/train_demo_judge.py --out examples/demo-judge

The prompts are rendered by judgecli's own ``judgelm-pair-ref`` template, so they are byte
for byte what ``judgecli judge --template judgelm-pair-ref`` sends, and the reply is what a
JudgeLM judge writes: "9 3\\n", a short explanation, end of text. The loss is on the reply
only, and every pair is shown in both orders (JudgeLM's swap augmentation). Three training
aids, none of which is saved with the judge:

* a curriculum: the first SHORT_STEPS steps drop JudgeLM's fixed instructions from the
  prompt (about 90 tokens instead of 250); the last steps use the exact prompt;
* linear probes on the middle layer (see ``Probes``), without which the judge sits on a
  plateau for many hundreds of steps before it learns to compare answers with the reference;
* outlier exposure: an eighth of the pairs are unjudgeable babble, on which the judge learns
  to spread its scores, so that it is less sure of itself out of its domain.

At the end the judge is run through the real CLI on a held-out set made with another seed
and on examples/labelled.jsonl, and agreement and mean confidence are printed.

Nothing is downloaded: the byte-level BPE tokenizer is trained here (digits one by one, as
Llama's), and the weights start from random. The same seed and thread count (--threads)
give the same weights on the same torch build; another thread count rounds differently.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_task import VALUES, make_outliers, make_pairs, target  # noqa: E402

__all__ = ["make_pairs", "target", "TRAIN_SEED", "HELDOUT_SEED", "TRAIN_PAIRS", "agreement",
           "mean_confidence", "judge_file"]

TRAIN_SEED = 0
HELDOUT_SEED = 12345
STEPS, SHORT_STEPS, BATCH = 1200, 800, 16  # the shipped judge's training run
TRAIN_PAIRS = STEPS * BATCH // 2  # each pair is shown in both orders
OUTLIER_SHARE = 1 / 8  # of the training pairs: unjudgeable ones (demo_task.make_outliers)
TEMPLATE = "judgelm-pair-ref"
CONFIG = {"hidden": 128, "layers": 4, "heads": 4, "intermediate": 384}
PROBE_LAYER = 2  # the training-only probes read the hidden state after this layer


@dataclass(frozen=True)
class Example:
    """One training sequence: prompt and reply ids, where the reply and its explanation
    start, and the probes' targets: the values of answer 1, answer 2 and the reference, and
    the tokens of each "[The End of Assistant k's Answer]" line with whether answer k is
    right."""

    ids: list[int]
    start: int
    explain: int
    values: tuple[int, int, int] | None  # None for an outlier
    ends: tuple[tuple[int, int], ...]


class Probes(torch.nn.Module):
    """Training-only linear probes on the hidden states after PROBE_LAYER (never saved).

    A judge that must compare each answer with the reference learns slowly from the score
    line alone: no single token predicts the verdict, only the agreement of two does, so
    training sits on a plateau for hundreds of steps. The probes give the middle layers a
    direct signal: at the last prompt token, name the value of answer 1, of answer 2 and of
    the reference; on the tokens of "[The End of Assistant k's Answer]", say whether
    answer k agrees with the reference.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.values = torch.nn.Linear(hidden, 3 * len(VALUES))
        self.ends = torch.nn.Linear(hidden, 2)

    def forward(self, states: torch.Tensor, chunk: list[Example]) -> dict[str, torch.Tensor]:
        judged = [(r, e) for r, e in enumerate(chunk) if e.values is not None]
        if not judged:  # only outliers: nothing to probe
            zero = states.sum() * 0
            return {"values": zero, "ends": zero}
        where = torch.tensor([r for r, _ in judged]), torch.tensor([e.start - 1 for _, e in judged])
        values = self.values(states[where])
        value_loss = F.cross_entropy(values.view(-1, len(VALUES)),
                                     torch.tensor([e.values for _, e in judged]).view(-1))
        marks = torch.tensor([(r, i, y) for r, e in judged for i, y in e.ends])
        end_loss = F.cross_entropy(self.ends(states[marks[:, 0], marks[:, 1]]), marks[:, 2])
        return {"values": value_loss, "ends": end_loss}


def build_tokenizer(corpus: list[str], vocab_size: int):
    """Byte-level BPE trained on the task's own text (the recipe of tests/tiny_judge.py)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                       special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")


def build_model(tokenizer, *, hidden: int, layers: int, heads: int, intermediate: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                         intermediate_size=intermediate, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    return LlamaForCausalLM(config)


def shortened(prompt: str) -> str:
    """The prompt without JudgeLM's fixed instructions (its first line and the [System]
    block), for the first, cheaper phase of training."""
    body = prompt.partition("\n")[2].rpartition("[System]")[0]
    return body + "### Response:"


def encode(tokenizer, template, row: dict, order: str, *, short: bool = False) -> Example:
    """Prompt ids as judgecli encodes them, then the reply's (the score line "s1 s2\\n" is
    tokenized on its own, as judgecli's score mode writes it)."""
    if row["kind"] == "outlier":
        return _encode_outlier(tokenizer, template, row, order, short)
    prompt = template.render(_item(row), order).text
    if short:
        prompt = shortened(prompt)
    encoded = tokenizer(prompt, return_offsets_mapping=True)
    ids, start, explain = _with_reply(tokenizer, list(encoded.input_ids), row, order)
    shown = [row["value_a"], row["value_b"]]
    if order == "BA":
        shown.reverse()
    ends = []
    for k, value in enumerate(shown, start=1):
        marker = f"[The End of Assistant {k}'s Answer]"
        begin = prompt.rindex(marker)
        ends += [(i, int(value == row["value"]))
                 for i, (a, b) in enumerate(encoded.offset_mapping)
                 if b > a and begin <= a < begin + len(marker)]
    values = tuple(VALUES.index(str(v)) for v in (*shown, row["value"]))
    return Example(ids, start, explain, values, tuple(ends))  # type: ignore[arg-type]


def _encode_outlier(tokenizer, template, row: dict, order: str, short: bool) -> Example:
    prompt = template.render(_item(row), order).text
    ids = tokenizer(shortened(prompt) if short else prompt).input_ids
    ids, start, explain = _with_reply(tokenizer, list(ids), row, order)
    return Example(ids, start, explain, None, ())


def _with_reply(tokenizer, ids: list[int], row: dict, order: str) -> tuple[list[int], int, int]:
    """The prompt's ids, then the reply's, and where the reply and its explanation start."""
    start = len(ids)
    line, why = target(row, order).split("\n", 1)
    ids += tokenizer(line + "\n", add_special_tokens=False).input_ids
    explain = len(ids)
    ids += tokenizer(why, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    return ids, start, explain


def _item(row: dict):
    """The row as ``judgecli judge`` reads it, so the prompt is the one judgecli sends."""
    from judgecli.io.records import to_item

    return to_item(row, file="demo", line=0)


def train(out: Path, *, steps: int, short_steps: int, batch: int, lr: float, seed: int,
          vocab: int, threads: int, probe_weight: float = 1.0, log_every: int = 50) -> float:
    """Train and save the judge; returns the training time in seconds."""
    from transformers.utils import logging

    from judgecli import load_template

    logging.disable_progress_bar()
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    template = load_template(TEMPLATE)
    outliers = int(steps * batch // 2 * OUTLIER_SHARE)
    rows = make_pairs(steps * batch // 2 - outliers, seed) + make_outliers(outliers, seed)
    # The tokenizer learns from the prompts and replies it will see (a sample is enough).
    corpus = [text for row in rows[:1500] + rows[-200:] for order in ("AB", "BA")
              for text in (template.render(_item(row), order).text, target(row, order))]
    tokenizer = build_tokenizer(corpus, vocab)
    model = build_model(tokenizer, **CONFIG)
    probes = Probes(CONFIG["hidden"])
    pairs = [(row, order) for row in rows for order in ("AB", "BA")]
    random.Random(seed).shuffle(pairs)
    parameters = list(model.parameters()) + list(probes.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, steps // 20)

    def schedule(step: int) -> float:  # linear warm-up, then cosine down to a tenth
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    started = time.monotonic()
    for step in range(steps):
        chunk = [encode(tokenizer, template, row, order, short=step < short_steps)
                 for row, order in pairs[step * batch:(step + 1) * batch]]
        losses = _losses(model, probes, tokenizer, chunk)
        loss = losses["score line"] + losses["explanation"] + \
            probe_weight * (losses["values"] + losses["ends"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        if (step + 1) % log_every == 0 or step == 0:
            shown = "  ".join(f"{k} {v.item():.3f}" for k, v in losses.items())
            print(f"step {step + 1}/{steps}  {shown}  {time.monotonic() - started:.0f}s",
                  flush=True)
    seconds = time.monotonic() - started
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # transformers 5 names the class TokenizersBackend; the old name loads in 4.x and 5.x.
    config_file = out / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return seconds


def _losses(model, probes, tokenizer, chunk: list[Example]):
    """Mean cross-entropy on the score line, on the explanation, and of the probes."""
    width = max(len(e.ids) for e in chunk)
    input_ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    rows, cols, labels, is_line, spread = [], [], [], [], []
    for r, e in enumerate(chunk):
        input_ids[r, :len(e.ids)] = torch.tensor(e.ids)
        mask[r, :len(e.ids)] = 1
        for t in range(e.start, len(e.ids)):  # position t - 1 predicts token t
            rows.append(r)
            cols.append(t - 1)
            labels.append(e.ids[t])
            is_line.append(t < e.explain)
            # An outlier's two score values: the target is every value 1..9 alike.
            spread.append(e.values is None and t in (e.start, e.start + 2))
    out = model.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
    logits = model.lm_head(out.last_hidden_state[torch.tensor(rows), torch.tensor(cols)])
    token_losses = F.cross_entropy(logits, torch.tensor(labels), reduction="none")
    soft = torch.tensor(spread)
    if soft.any():
        digits = torch.tensor(tokenizer.convert_tokens_to_ids([str(d) for d in range(1, 10)]))
        token_losses[soft] = -logits[soft].log_softmax(-1)[:, digits].mean(-1)
    line = torch.tensor(is_line)
    losses = {"score line": token_losses[line].mean(),
              "explanation": token_losses[~line].mean()}
    losses.update(probes(out.hidden_states[PROBE_LAYER], chunk))
    return losses


def judge_file(judge: Path, rows: list[dict], *, extra: tuple[str, ...] = ()) -> list[dict]:
    """Judge ``rows`` with the real CLI (score mode, swap on: the defaults)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "judgecli", "judge", str(src), "--judge",
                        str(judge), "--template", TEMPLATE, "-q", "-o", str(dst), *extra],
                       check=True)
        return [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]


def agreement(judged: list[dict]) -> float:
    """Share of items whose verdict equals the gold label."""
    return sum(r["judgment"]["verdict"] == r["label"] for r in judged) / len(judged)


def mean_confidence(judged: list[dict]) -> float:
    values = [r["judgment"]["confidence"] for r in judged
              if r["judgment"]["confidence"] is not None]
    return sum(values) / len(values)


def evaluate(judge: Path, n: int) -> None:
    """Judge ``n`` held-out pairs and examples/labelled.jsonl with the CLI; print agreement
    and mean confidence, in the judge's domain and out of it."""
    heldout = make_pairs(n, HELDOUT_SEED)
    labelled_file = Path(__file__).resolve().parent / "labelled.jsonl"
    labelled = [json.loads(line) for line in labelled_file.read_text("utf-8").splitlines()
                ] if labelled_file.exists() else []
    started = time.monotonic()
    judged = judge_file(judge, heldout + labelled)
    print(f"judged {len(judged)} pairs in {time.monotonic() - started:.0f}s")
    groups = {f"held-out (seed {HELDOUT_SEED})": judged[:n]}
    for domain in ("in", "out"):
        groups[f"labelled.jsonl, domain {domain}"] = [r for r in judged[n:]
                                                     if r["domain"] == domain]
    for name, records in groups.items():
        if records:
            print(f"{name}: agreement {agreement(records):.1%} on {len(records)} pairs, "
                  f"mean confidence {mean_confidence(records):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("examples/demo-judge"))
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps in all")
    parser.add_argument("--short-steps", type=int, default=SHORT_STEPS,
                        help="first steps on prompts without the fixed instructions")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--vocab", type=int, default=1152)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads; the shipped judge was trained with 2")
    parser.add_argument("--heldout", type=int, default=500, help="held-out pairs to judge")
    parser.add_argument("--no-train", action="store_true", help="only evaluate --out")
    args = parser.parse_args(argv)
    if not args.no_train:
        seconds = train(args.out, steps=args.steps, short_steps=args.short_steps,
                        batch=args.batch, lr=args.lr, seed=args.seed, vocab=args.vocab,
                        threads=args.threads)
        size = sum(p.stat().st_size for p in args.out.iterdir()) / 2**20
        print(f"trained in {seconds / 60:.1f} min; saved {args.out} ({size:.1f} MiB)")
    if args.heldout:
        evaluate(args.out, args.heldout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
