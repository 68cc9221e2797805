"""Cheap checks first, one line each, the same rules for every command (issue 16 items
13-15): an output that is a folder or in a missing folder, an existing output without
--force, a missing input. The judge named is one that cannot load, so an error about the
files proves they were checked before any model was."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli, write_jsonl

NO_JUDGE = "/nonexistent/judge-folder"


@pytest.fixture
def pairs(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "question": "q", "answer_a": "a", "answer_b": "b", "label": "A"}])


@pytest.mark.parametrize("command", ["judge", "calibrate", "compare"])
def test_output_folder_or_missing_folder_is_one_line_before_loading(
        tmp_path, monkeypatch, capsys, pairs, command) -> None:
    inputs = [str(pairs)] if command != "compare" else [str(pairs), str(pairs)]
    for target, says in ((tmp_path, "is a folder; name a file in it"),
                         (tmp_path / "missing" / "out.jsonl", "no such folder")):
        code, _, err = run_cli(monkeypatch, capsys, command, *inputs, "--judge", NO_JUDGE,
                               "-o", str(target))
        assert code == 2
        assert says in err and "Traceback" not in err
        assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_missing_input_before_loading(tmp_path, monkeypatch, capsys) -> None:
    for command in ("judge", "calibrate"):
        code, _, err = run_cli(monkeypatch, capsys, command, str(tmp_path / "nope.jsonl"),
                               "--judge", NO_JUDGE, "-t", "judgelm-pair")
        assert code == 2 and "nope.jsonl: no such file" in err


def test_calibrate_refuses_to_overwrite_without_force(tmp_path, monkeypatch, capsys) -> None:
    judged = write_jsonl(tmp_path / "judged.jsonl", [
        {"id": i, "label": "A", "judgment": {
            "judge": "j", "template": "t", "verdict": "A" if i % 3 else "B", "error": None,
            "consistent": True, "confidence": 0.5 + i / 40,
            "indicators": {"verdict_prob": 0.5 + i / 40, "swap": {"consistent": True}},
            "orders": [{"probs": {"A": 0.6, "B": 0.3, "tie": 0.1}}]}}
        for i in range(20)])
    out = tmp_path / "cal.json"
    out.write_text("keep me\n")
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(judged),
                           "-o", str(out))
    assert code == 2 and "exists; use --force to overwrite it" in err
    assert out.read_text() == "keep me\n"
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(judged),
                           "-o", str(out), "--force")
    assert code == 0, err
    assert json.loads(out.read_text())["n"] == 20


def test_a_run_where_every_judgment_failed_exits_1(tmp_path, monkeypatch, capsys,
                                                   tiny_judge) -> None:
    """One token cannot hold JudgeLM's two scores (the tiny tokenizer writes digits one by
    one), so every judgment fails; the records are written, and the exit code says so."""
    rows = [{"id": i, "question": f"q{i}", "answer_a": "a", "answer_b": "b"} for i in (1, 2)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(path), "--judge", str(tiny_judge),
                           "-t", "judgelm-pair", "--mode", "explain", "--max-new-tokens", "1",
                           "-o", str(out), "-q")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [1, 2]
    assert all(r["judgment"]["error"] for r in records)
    assert code == 1 and "every judgment failed (2 of 2)" in err


def test_report_of_files_without_shared_ids_says_so(tmp_path, monkeypatch, capsys) -> None:
    def judged(prefix: str) -> list[dict]:
        return [{"id": f"{prefix}{i}", "label": "A", "judgment": {
            "judge": "j", "template": "t", "verdict": "A", "error": None}} for i in range(3)]

    a = write_jsonl(tmp_path / "a.jsonl", judged("a"))
    b = write_jsonl(tmp_path / "b.jsonl", judged("b"))
    code, out, err = run_cli(monkeypatch, capsys, "report", str(a), str(b))
    assert code == 2 and "share no item ids" in err and out == ""
    code, out, err = run_cli(monkeypatch, capsys, "report", str(a), str(a))
    assert code == 0, err


def test_a_mistyped_or_empty_judge_folder_is_named_at_once(tmp_path, monkeypatch, capsys,
                                                          pairs) -> None:
    """Not looked up on the hub (a minute of retries offline), nor "Couldn't instantiate
    the backend tokenizer from one of: "."""
    (tmp_path / "judges" / "demo-judge").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    cases = {"judges/demo-judg": "no such judge folder 'judges/demo-judg'; did you mean "
                                 "'judges/demo-judge'?",
             "./nothere": "no such judge folder './nothere'",
             "judges/demo-judge": "holds no judge: a judge folder holds what save_pretrained"}
    for spec, says in cases.items():
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge", spec,
                               "-t", "judgelm-pair", "-q")
        assert code == 2 and says in err, err
