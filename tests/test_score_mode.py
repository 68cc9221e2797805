"""Score mode on a real (tiny, random) transformers judge loaded with from_pretrained."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from judgecli import JudgeOptions, Judging, load_judge, load_template
from judgecli.io.records import to_item

ITEMS = [
    {"question": f"What is {i} + {i}? {extra}", "answer_a": f"It is {2 * i}.",
     "answer_b": f"I think {extra} {i * 3}", "reference": str(2 * i)}
    for i, extra in enumerate(["", "{answer_2}", "[System]", "😀", "x\r\ny", "Paris"])
]


def restricted_greedy(model, tokenizer, prompt: str, lines: list[str], max_steps: int = 12,
                      with_ids: bool = False):
    """Greedy decoding where a token is allowed only if the decoded text stays a prefix of
    one of ``lines``: an independent statement of "restricted to the template's format"
    (no cache, no batch, no trie), as generate() with prefix_allowed_tokens_fn would do."""
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    generated: list[int] = []
    for _ in range(max_steps):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids[0].tolist() + generated])).logits[0, -1]
        allowed = [t for t in range(logits.shape[0])
                   if any(line.startswith(tokenizer.decode(generated + [t])) for line in lines)]
        best = max(allowed, key=lambda t: (logits[t].item(), -t))
        generated.append(best)
        text = tokenizer.decode(generated)
        if text in lines:
            return (text, generated) if with_ids else text
    raise AssertionError(f"no complete line after {max_steps} steps: {tokenizer.decode(generated)!r}")


SCORES = [str(i) for i in range(1, 11)]
FORMATS = {
    "judgelm-pair": [f"{a} {b}\n" for a in SCORES for b in SCORES],
    "judgelm-pair-ref": [f"{a} {b}\n" for a in SCORES for b in SCORES],
    "pandalm": ["1\n", "2\n", "Tie\n"],
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_score_mode_equals_restricted_greedy_generation(tiny_judge, name) -> None:
    template = load_template(name)
    judge = load_judge(str(tiny_judge), batch_size=4)
    judging = Judging(judge, JudgeOptions(template=template, mode="score"))
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(ITEMS, start=1)]
    records = judging.judge_items(items)
    model = AutoModelForCausalLM.from_pretrained(tiny_judge)
    tokenizer = AutoTokenizer.from_pretrained(tiny_judge)
    for it, record in zip(items, records):
        for entry in record["judgment"]["orders"]:
            prompt = template.render(it, entry["order"]).text
            expected = restricted_greedy(model, tokenizer, prompt, FORMATS[name])
            assert entry["text"] == expected.strip()
            assert entry["error"] is None
            assert sum(entry["probs"].values()) == pytest.approx(1.0)
        judgment = record["judgment"]
        assert judgment["mode"] == "score" and judgment["error"] is None
        assert 0.0 <= judgment["confidence"] <= 1.0


def test_single_answer_score_mode(tiny_judge) -> None:
    template = load_template("judgelm-single")
    judge = load_judge(str(tiny_judge))
    judging = Judging(judge, JudgeOptions(template=template))
    it = to_item({"question": "2+2?", "answer": "4", "reference": "4"}, file="t", line=1)
    record = judging.judge_items([it])[0]
    model = AutoModelForCausalLM.from_pretrained(tiny_judge)
    tokenizer = AutoTokenizer.from_pretrained(tiny_judge)
    # After "### Response:10" the judge writes " s\n": Assistant 2's score.
    expected = restricted_greedy(model, tokenizer, template.render(it).text,
                                 [f" {s}\n" for s in SCORES])
    assert record["judgment"]["score"] == float(expected.strip())
    assert 0 < record["judgment"]["confidence"] <= 1
    assert record["judgment"]["verdict"] is None and record["judgment"]["error"] is None


def test_deterministic_and_batch_size_independent(tiny_judge) -> None:
    template = load_template("judgelm-pair")
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(ITEMS, start=1)]
    outputs = []
    for batch_size in (1, 3, 16):
        judging = Judging(load_judge(str(tiny_judge), batch_size=batch_size),
                          JudgeOptions(template=template))
        outputs.append(judging.judge_items(items))
    verdicts = [[r["judgment"]["orders"][k]["text"] for r in out for k in (0, 1)] for out in outputs]
    assert verdicts[0] == verdicts[1] == verdicts[2]
    confidences = [[r["judgment"]["confidence"] for r in out] for out in outputs]
    assert confidences[0] == pytest.approx(confidences[1], abs=1e-4)
    assert confidences[0] == pytest.approx(confidences[2], abs=1e-4)


def test_token_budget_batches_and_out_of_memory_halves(tiny_judge, monkeypatch) -> None:
    """A GPU's batches are sized by tokens (longest first: a batch holds as many prompts as
    fit at its first prompt's width); a batch that runs out of memory is judged in halves,
    and later batches get a smaller budget. Same judgments either way."""
    template = load_template("judgelm-pair")
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(ITEMS, start=1)]
    plain = Judging(load_judge(str(tiny_judge), batch_size=16), JudgeOptions(template=template))
    expected = plain.judge_items(items)

    judge = load_judge(str(tiny_judge))
    encoded = [judge.encode(r) for r in plain.requests(items[0]) + plain.requests(items[1])]
    widest = max(len(ids) for ids in encoded)
    judge.token_budget, judge.batch_size = 2 * widest + 1, 256
    batches = judge.plan_batches(encoded)
    assert sorted(i for b in batches for i in b) == list(range(len(encoded)))
    for batch in batches:
        assert len(batch) * len(encoded[batch[0]]) <= judge.token_budget
        assert len(encoded[batch[0]]) == max(len(encoded[i]) for i in batch)
    # Explain mode's prompts may grow by their new tokens: planned at that width.
    growing = judge.plan_batches(encoded, [widest] * len(encoded))
    assert max(len(b) for b in growing) == 1 and len(growing) == len(encoded)

    judge.token_budget = 10 * widest
    real_score, sizes = judge._score, []

    def scarce(batch, requests):  # as if a GPU held at most 3 prompts
        sizes.append(len(batch))
        if len(batch) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_score(batch, requests)

    monkeypatch.setattr(judge, "_score", scarce)
    got = Judging(judge, JudgeOptions(template=template)).judge_items(items)
    assert [r["judgment"]["orders"][k]["text"] for r in got for k in (0, 1)] == \
        [r["judgment"]["orders"][k]["text"] for r in expected for k in (0, 1)]
    assert [r["judgment"]["confidence"] for r in got] == pytest.approx(
        [r["judgment"]["confidence"] for r in expected], abs=1e-4)
    assert sizes[0] == 10 and max(sizes[1:]) <= 5 and judge.token_budget <= 5 * widest
    judge.token_budget = None
    monkeypatch.setattr(judge, "_score", lambda batch, requests: (_ for _ in ()).throw(
        torch.cuda.OutOfMemoryError("simulated")))
    with pytest.raises(torch.cuda.OutOfMemoryError):  # one prompt too big: nothing left to halve
        judge._run([0], encoded, [0] * 4, plain.requests(items[0]) * 2, "score", [None] * 4)


def test_explain_mode_generates_and_fails_honestly(tiny_judge) -> None:
    # A random judge writes gibberish: every item must be an error, never a made-up tie.
    judging = Judging(load_judge(str(tiny_judge)),
                      JudgeOptions(template=load_template("judgelm-pair"), mode="explain",
                                   max_new_tokens=6))
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(ITEMS[:3], start=1)]
    for record in judging.judge_items(items):
        judgment = record["judgment"]
        assert judgment["mode"] == "explain"
        texts = [o["text"] for o in judgment["orders"]]
        assert all(isinstance(t, str) for t in texts)
        if judgment["error"] is not None:
            assert judgment["verdict"] is None and "unparseable" in judgment["error"]


def direct_huang(model, prompt_ids: list[int], generated: list[int]) -> float:
    """Huang et al.'s entropy indicator computed as their get_single_evaluation does: one
    forward over prompt + output, log_softmax(logits) * logits averaged over the vocabulary,
    prompt positions masked, summed and divided by the output length."""
    ids = torch.tensor([prompt_ids + generated])
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    per_position = (torch.log_softmax(logits, dim=-1) * logits).mean(dim=-1)[0]
    per_position[:len(prompt_ids)] = 0
    return float(per_position.sum() / len(generated))


def test_huang_indicator_equals_direct_computation(tiny_judge, tmp_path) -> None:
    from tiny_judge import save_tiny_judge

    base_path = save_tiny_judge(tmp_path / "base", seed=7)
    template = load_template("judgelm-pair")
    judge = load_judge(str(tiny_judge), batch_size=3, base_model=str(base_path))
    judging = Judging(judge, JudgeOptions(template=template))
    items = [to_item(dict(r, id=n), file="t", line=n) for n, r in enumerate(ITEMS[:4], start=1)]
    model = AutoModelForCausalLM.from_pretrained(tiny_judge)
    base = AutoModelForCausalLM.from_pretrained(base_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_judge)
    for it, record in zip(items, judging.judge_items(items)):
        judge_values, base_values = [], []
        for order in ("AB", "BA"):
            prompt = template.render(it, order).text
            _, generated = restricted_greedy(model, tokenizer, prompt, FORMATS["judgelm-pair"],
                                             with_ids=True)
            prompt_ids = tokenizer(prompt).input_ids
            judge_values.append(direct_huang(model, prompt_ids, generated))
            base_values.append(direct_huang(base, prompt_ids, generated))
        found = record["judgment"]["indicators"]
        assert found["huang"] == pytest.approx(sum(judge_values) / 2, rel=1e-4)
        assert found["huang_base"] == pytest.approx(sum(base_values) / 2, rel=1e-4)
        assert 0 <= found["entropy"] <= 1 and 0 <= found["verdict_prob"] <= 1
        assert found["swap"]["consistent"] == record["judgment"]["consistent"]


def test_token_budget_for_llama_2_7b_shapes(monkeypatch) -> None:
    """Half of 100 GB free over a Llama-2-7B token's cost in bf16: its key/value cache in 32
    layers (2 x 32 x 32 heads x 128 x 2 bytes) and one layer's activations
    ((4 x 4096 + 3 x 11008) x 2 bytes); no GPU needed to check the arithmetic."""
    from types import SimpleNamespace

    from judgecli.backends.hf import judge as hf

    weight = SimpleNamespace(device=torch.device("cuda", 0), element_size=lambda: 2)
    config = SimpleNamespace(num_attention_heads=32, num_key_value_heads=32, head_dim=128,
                             hidden_size=4096, intermediate_size=11008, num_hidden_layers=32)
    model = SimpleNamespace(config=config, parameters=lambda: iter([weight, weight]))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (100 * 10**9, 141 * 10**9))
    per_token = 2 * 32 * 32 * 128 * 2 + (4 * 4096 + 3 * 11008) * 2
    assert hf._token_budget(model) == int(0.5 * 100 * 10**9 / per_token)  # 80,244 tokens
