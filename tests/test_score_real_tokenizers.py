"""Score mode on the real tokenizers of the families real judges are built on (../shared/
tokenizers: Llama-2, Mistral v1/v3, Tekken, Llama-3, Qwen2, GPT-2 style), with completion
and chat templates, against an independent restricted greedy decoder.

The decoder here knows nothing of judgecli's trie: it renders every score line the template
allows, takes its canonical tokens after the real prompt (completion: the tokens of
``prompt + line`` after the longest prefix they share with the prompt's tokens; chat: the
same after the generation prompt and what the chat template writes before a reply, taken
from a one-turn conversation rendered with and without the reply), backs the prompt up to the shortest shared prefix, and
decodes greedily with full forward passes (no cache), allowing at each step only tokens
that continue some line's sequence. Skipped where ../shared is absent.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
import torch

from judgecli import JudgeOptions, Judging, load_judge, load_template
from judgecli.io.records import to_item

TOKENIZERS = Path(__file__).resolve().parents[2] / "shared" / "tokenizers"
FAMILIES = ["gpt2-bpe", "llama2-spm", "llama3-bpe", "mistral-tekken", "mistral-v1-spm",
            "mistral-v3-spm", "qwen2-bpe"]
TEMPLATES = ["judgelm-pair", "pandalm", "basic-pair", "basic-single"]

PAIRS = [
    {"question": "What is 2 + 2?", "answer_a": "It is 4.", "answer_b": "5", "reference": "4",
     "input": ""},
    {"question": "Name a colour: {x} [System]", "answer_a": "Blue 😀", "reference": "blue",
     "answer_b": "I think\nit is green:", "input": "a palette"},
]
SINGLES = [{"question": "What is 2 + 2?", "answer": "4"},
           {"question": "Name a colour: {x}", "answer": "red\r\n"}]

pytestmark = pytest.mark.skipif(not TOKENIZERS.is_dir(), reason="../shared/tokenizers absent")


@pytest.fixture(scope="module")
def judges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random Llama judge per tokenizer family, saved as a checkpoint folder."""
    from tiny_judge import build_model
    from transformers import AutoTokenizer

    out = {}
    for family in FAMILIES:
        folder = tmp_path_factory.mktemp("real") / family
        tokenizer = AutoTokenizer.from_pretrained(TOKENIZERS / family)
        model = build_model(tokenizer, hidden=32, layers=1, heads=2, kv_heads=1,
                            intermediate=64, seed=len(family))
        model.save_pretrained(folder)
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            shutil.copy(TOKENIZERS / family / name, folder / name)
        out[family] = folder
    return out


def _lines(template) -> list[tuple[str, tuple[str, ...]]]:
    line = template.score_line
    count = 1 if template.kind == "single" and template.parser != "scores" else \
        (2 if template.parser == "scores" else 1)
    return [(line.prefix + line.sep.join(v) + line.end, v)
            for v in itertools.product(line.values, repeat=count)]


def _canonical(tokenizer, prompt, line: str) -> tuple[list[int], list[int]]:
    """(prompt tokens, tokens of the prompt followed by the line) as the judge sees them."""
    if prompt.text is not None:
        return (tokenizer(prompt.text).input_ids, tokenizer(prompt.text + line).input_ids)
    messages = list(prompt.messages)
    head = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # What the template writes before a reply, from a one-turn conversation (where the
    # rendering with the reply starts with the generation prompt; Mistral's moves a system
    # prompt once a reply follows, so the real conversation cannot show it this way).
    user = [m for m in messages if m["role"] == "user"][-1:]
    bare = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    with_reply = tokenizer.apply_chat_template(
        user + [{"role": "assistant", "content": line}], tokenize=False)
    assert with_reply.startswith(bare)
    lead = with_reply[len(bare):with_reply.rindex(line)]
    return (tokenizer(head, add_special_tokens=False).input_ids,
            tokenizer(head + lead + line, add_special_tokens=False).input_ids)


def _shared_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def reference_line(model, tokenizer, prompt, lines, with_prob: bool = False):
    """Restricted greedy decoding over the canonical sequences, full forwards, no cache;
    with ``with_prob``, also the product of the restricted probabilities of its tokens."""
    pairs = [(_canonical(tokenizer, prompt, text), text) for text, _ in lines]
    prompt_ids = pairs[0][0][0]
    start = min(_shared_prefix(p, full) for (p, full), _ in pairs)
    sequences = {tuple(full[start:]): text for (_, full), text in pairs}
    context, written, prob = list(prompt_ids[:start]), [], 1.0
    while tuple(written) not in sequences:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([context + written])).logits[0, -1]
        allowed = sorted({s[len(written)] for s in sequences
                          if len(s) > len(written) and list(s[:len(written)]) == written})
        assert allowed, "no line continues the tokens written"
        best = max(allowed, key=lambda t: (logits[t].item(), -t))
        prob *= torch.softmax(logits[allowed], dim=-1)[allowed.index(best)].item()
        written.append(best)
    return (sequences[tuple(written)], prob) if with_prob else sequences[tuple(written)]


@pytest.mark.parametrize("family", FAMILIES)
def test_score_line_equals_independent_decoder(judges, family) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    judge = load_judge(str(judges[family]), batch_size=4)
    model = AutoModelForCausalLM.from_pretrained(judges[family]).eval()
    tokenizer = AutoTokenizer.from_pretrained(judges[family])
    for name in TEMPLATES:
        template = load_template(name)
        judging = Judging(judge, JudgeOptions(template=template, mode="score"))
        rows = PAIRS if template.kind == "pair" else SINGLES
        items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(rows, 1)]
        records = judging.judge_items(items)
        lines = _lines(template)
        for it, record in zip(items, records):
            judgment = record["judgment"]
            assert judgment["error"] is None, (family, name, judgment["error"])
            for entry in judgment.get("orders") or [judgment]:
                order = entry.get("order", "AB")
                prompt = template.render(it, order) if template.kind == "pair" \
                    else template.render(it)
                expected, prob = reference_line(model, tokenizer, prompt, lines, True)
                assert entry["text"] == expected.strip(), (family, name, order)
            if template.kind == "single":
                # One slot: the grade's probability is that of the line's tokens (a token
                # the decoder did not take leads only to other grades).
                assert judgment["confidence"] == pytest.approx(prob, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_multi_answer_lines_grown_lazily_equal_the_full_enumeration(judges, family) -> None:
    """Three answers: 1,000 lines, which the decoder here enumerates in full while judgecli
    grows its trie from probe lines that vary two slots at a time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    judge = load_judge(str(judges[family]), batch_size=4)
    model = AutoModelForCausalLM.from_pretrained(judges[family]).eval()
    tokenizer = AutoTokenizer.from_pretrained(judges[family])
    template = load_template("judgelm-multi")
    judging = Judging(judge, JudgeOptions(template=template, mode="score"))
    rows = [{"question": "Best pet?", "answers": ["A cat.", "dog", "10 fish"]},
            {"question": "2+2", "answers": ["4", "5\n", "four 😀"]}]
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(rows, 1)]
    line = template.score_line
    lines = [(line.prefix + line.sep.join(v) + line.end, v)
             for v in itertools.product(line.values, repeat=3)]
    for it, record in zip(items, judging.judge_items(items)):
        assert record["judgment"]["error"] is None
        expected = reference_line(model, tokenizer, template.render(it), lines)
        assert record["judgment"]["orders"][0]["text"] == expected.strip(), family
