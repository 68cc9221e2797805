"""The API judge against a real OpenAI-compatible server: ``transformers serve`` (the
``transformers[serving]`` extra) serving a tiny local Llama judge on 127.0.0.1.

The judge is tiny_judge's model with its layers silenced and its output layer set by hand,
so that it writes a fixed judgment whatever it reads: "8 3\\n[[A]]" after a completion
prompt ending in ":" and "[[A]]" after the chat template's "\\n". Both parse (JudgeLM takes
the first line, MT-Bench the [[A]]), so real verdicts travel through the real server.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None
        for name in ("fastapi", "uvicorn", "transformers.cli.serving")),
    reason='transformers serve needs transformers 5 and: pip install "transformers[serving]"')

# token -> the token the judge writes next
NEXT = {":": "8", "8": " ", " ": "3", "3": "\n", "\n": "[[", "[[": "A", "A": "]]"}


def save_parrot_judge(path: Path) -> Path:
    import torch
    from tiny_judge import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    model = build_model(tokenizer)

    def one(text: str) -> int:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        assert len(ids) == 1, (text, ids)
        return int(ids[0])

    follow = {one(a): one(b) for a, b in NEXT.items()}
    follow[one("]]")] = tokenizer.eos_token_id
    with torch.no_grad():
        # Silence every layer: the last hidden state is then the current token's embedding,
        # and the output layer maps it to the next token of the table.
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        head.zero_()
        for token, after in follow.items():
            head[after] += 50 * embed[token] / embed[token].norm()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(model path, base URL) of a ``transformers serve`` process on 127.0.0.1."""
    model = save_parrot_judge(tmp_path_factory.mktemp("served") / "parrot")
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_HUB_DISABLE_TELEMETRY="1")
    log = open(tmp_path_factory.mktemp("log") / "serve.log", "w+")
    server = subprocess.Popen([sys.executable, "-m", "transformers.cli.transformers", "serve",
                               str(model), "--host", "127.0.0.1", "--port", str(port),
                               "--device", "cpu", "--model-timeout", "600"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"transformers serve did not start:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        yield str(model), f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def judge(tmp: Path, model: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["JUDGECLI_CACHE_DIR"] = str(tmp / "cache")  # no key: a local server needs none
    return subprocess.run([sys.executable, "-m", "judgecli", "judge", "in.jsonl", "--judge",
                           f"openai:{model}", "--base-url", url, "--max-new-tokens", "16",
                           "--concurrency", "2", *args], cwd=tmp, capture_output=True,
                          text=True, env=env, timeout=300)


ITEMS = [{"id": i, "question": f"Question {i}?", "answer_a": "Paris.", "answer_b": "Lyon."}
         for i in range(3)]


@pytest.mark.parametrize("template,api", [("mtbench-pair", "chat"),
                                          ("judgelm-pair", "completions"),
                                          ("judgelm-pair", "chat")])
def test_judging_through_transformers_serve(tmp_path: Path, served: tuple[str, str],
                                            template: str, api: str) -> None:
    model, url = served
    write_jsonl(tmp_path / "in.jsonl", ITEMS)
    proc = judge(tmp_path, model, url, "--template", template, "--api", api, "-o", "out.jsonl")
    # judgelm-pair over chat gives no score line (below): every judgment fails, and a run
    # that judged nothing exits 1 (issue 16 item 8), its records still written.
    all_failed = template == "judgelm-pair" and api == "chat"
    assert proc.returncode == (1 if all_failed else 0), proc.stderr
    assert ("every judgment failed (3 of 3)" in proc.stderr) == all_failed
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [0, 1, 2]
    for record in out:
        j = record["judgment"]
        texts = [order["text"] for order in j["orders"]]
        if template == "judgelm-pair" and api == "chat":
            # The chat template ends in "\n", after which this judge writes only "[[A]]":
            # no score line, so an explicit error and never a made-up verdict.
            assert texts == ["[[A]]", "[[A]]"] and j["verdict"] is None
            assert "unparseable" in j["error"]
            continue
        assert texts == (["[[A]]"] * 2 if template == "mtbench-pair" else ["8 3\n[[A]]"] * 2)
        # The judge prefers whatever is shown first, so the orders disagree: strict = tie.
        assert j["verdict"] == "tie" and j["consistent"] is False and j["error"] is None
        assert j["confidence"] is None  # transformers serve gives no logprobs
        assert j["usage"]["prompt_tokens"] > 100 and j["usage"]["completion_tokens"] > 0
    assert "judged 3" in proc.stderr and "6 request(s)" in proc.stderr
    assert "cost unknown" in proc.stderr
    again = judge(tmp_path, model, url, "--template", template, "--api", api, "-o",
                  "again.jsonl")
    assert again.returncode == proc.returncode and "6 answered from the cache" in again.stderr
    assert read_jsonl(tmp_path / "again.jsonl") == out
