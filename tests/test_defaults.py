"""Defaults that do what the user meant: the template follows the items (issue 16 item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_JUDGE = EXAMPLES / "demo-judge"

CASES = [
    ({"question": "q", "answer_a": "a", "answer_b": "b"}, "judgelm-pair"),
    ({"question": "q", "answer_a": "a", "answer_b": "b", "reference": "r"}, "judgelm-pair-ref"),
    ({"question": "q", "answer": "a", "reference": "r"}, "judgelm-single-ref"),
    ({"question": "q", "answer": "a"}, "mtbench-single"),
    ({"question": "q", "answers": ["a", "b", "c"]}, "judgelm-multi"),
    ({"turns": [{"question": "q1", "answer_a": "a", "answer_b": "b"},
                {"question": "q2", "answer_a": "c", "answer_b": "d"}]}, "mtbench-pair-multiturn"),
    ({"turns": [{"question": "q1", "answer": "a", "reference": "r1"},
                {"question": "q2", "answer": "c", "reference": "r2"}]},
     "mtbench-single-ref-multiturn"),
]


@pytest.mark.parametrize("record,expected", CASES)
def test_dry_run_uses_the_template_the_items_call_for(tmp_path, monkeypatch, capsys, record,
                                                      expected) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [dict(record, id=1)])
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(path), "--dry-run")
    assert code == 0, err
    assert {json.loads(line)["template"] for line in out.splitlines()} == {expected}
    assert f"template {expected} (" in err


def test_a_named_template_that_hides_the_reference_is_warned_about(tmp_path, monkeypatch,
                                                                   capsys) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "question": "q", "answer_a": "a", "answer_b": "b", "reference": "r"}])
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(path), "--dry-run",
                           "-t", "mtbench-pair")
    assert code == 0
    assert "warning: the items carry a 'reference' that template mtbench-pair" in err
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(path), "--dry-run",
                           "-t", "mtbench-pair-ref")
    assert code == 0 and "warning" not in err and "template mtbench-pair-ref (" not in err


def test_stdin_is_peeked_without_losing_its_first_line(tmp_path) -> None:
    rows = [{"id": i, "question": "q", "answer_a": "a", "answer_b": "b", "reference": "r"}
            for i in range(1, 4)]
    text = "\n" + "".join(json.dumps(r) + "\n" for r in rows)  # a blank line first
    done = subprocess.run([sys.executable, "-m", "judgecli", "judge", "-", "--dry-run",
                           "--no-swap"], input=text, capture_output=True, text=True,
                          check=True)
    prompts = [json.loads(line) for line in done.stdout.splitlines()]
    assert [p["id"] for p in prompts] == [1, 2, 3]
    assert {p["template"] for p in prompts} == {"judgelm-pair-ref"}


@pytest.mark.skipif(not DEMO_JUDGE.is_dir(), reason="examples/demo-judge is missing")
def test_default_on_the_bundled_examples_agrees_with_the_labels(tmp_path, monkeypatch,
                                                                capsys) -> None:
    out = tmp_path / "judged.jsonl"
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(EXAMPLES / "pairs.jsonl"),
                           "--judge", str(DEMO_JUDGE), "-o", str(out), "-q")
    assert code == 0, err
    records = read_jsonl(out)
    agree = sum(r["judgment"]["verdict"] == r["label"] for r in records) / len(records)
    assert {r["judgment"]["template"] for r in records} == {"judgelm-pair-ref"}
    assert agree >= 0.9  # judgelm-pair, which hides the reference, agrees 0.22
