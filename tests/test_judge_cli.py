"""`judgecli judge` end to end: output format, resume after a kill, and every bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl



cli = run_cli


def pairs(n: int) -> list[dict]:
    return [{"id": f"q{i}", "question": f"What is {i} times 3?", "answer_a": f"{3 * i}",
             "answer_b": f"{3 * i + 1} {{maybe}}", "label": "A", "category": "math"}
            for i in range(n)]


def test_judge_writes_documented_records(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(5))
    out = tmp_path / "out.jsonl"
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(out), "-q")
    assert code == 0, err
    assert "judged 5" in err
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [f"q{i}" for i in range(5)]
    for record, original in zip(records, pairs(5)):
        assert {k: record[k] for k in original} == original  # every field passes through
        j = record["judgment"]
        assert set(j) >= {"judge", "template", "verdict", "score_a", "score_b", "confidence",
                          "consistent", "orders", "error"}
        assert j["template"] == "judgelm-pair" and j["verdict"] in ("A", "B", "tie")
        assert [o["order"] for o in j["orders"]] == ["AB", "BA"]
        assert j["consistent"] == (j["orders"][0]["verdict"] == j["orders"][1]["verdict"])


def test_no_swap_and_stdin_stdout(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    import io

    data = "".join(json.dumps(r) + "\n" for r in pairs(3)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, err = cli(monkeypatch, capsys, "judge", "-", "--judge", str(tiny_judge),
                         "--no-swap", "-q")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    assert all(len(r["judgment"]["orders"]) == 1 and r["judgment"]["consistent"] is None
               for r in records)


def test_dry_run_prints_exact_prompts(tmp_path, monkeypatch, capsys) -> None:
    from judgecli import load_template
    from judgecli.io.records import to_item

    src = write_jsonl(tmp_path / "in.jsonl", pairs(2))
    code, out, _ = cli(monkeypatch, capsys, "judge", str(src), "--dry-run")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["order"]) for r in rows] == [("q0", "AB"), ("q0", "BA"), ("q1", "AB"),
                                                     ("q1", "BA")]
    item = to_item(pairs(2)[0], file="x", line=1)
    assert rows[1]["prompt"] == load_template("judgelm-pair").render(item, "BA").text
    code, out, _ = cli(monkeypatch, capsys, "judge", str(src), "--dry-run", "-t", "mtbench-pair")
    assert json.loads(out.splitlines()[0])["messages"][0]["role"] == "system"


def test_resume_after_a_torn_write(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(12))
    full = tmp_path / "full.jsonl"
    assert cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge), "-o",
               str(full), "-q")[0] == 0
    lines = full.read_text().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text("".join(lines[:5]) + lines[5][:40])  # a write cut off mid-line
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(part), "-q", "--resume")
    assert code == 0, err
    assert "already done 5" in err and "judged 7" in err
    assert [r["id"] for r in read_jsonl(part)] == [r["id"] for r in read_jsonl(full)]
    # The 7 re-batched items: same verdicts; probabilities equal up to float rounding.
    for got, want in zip(read_jsonl(part), read_jsonl(full)):
        assert [o["text"] for o in got["judgment"]["orders"]] == \
            [o["text"] for o in want["judgment"]["orders"]]
        assert got["judgment"]["confidence"] == pytest.approx(want["judgment"]["confidence"],
                                                              abs=1e-5)


def test_existing_output_is_not_overwritten(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(2))
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(out))
    assert code == 2 and "exists; use --resume" in err
    assert out.read_text() == "precious\n"
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(out), "--force", "-q")
    assert code == 0 and len(read_jsonl(out)) == 2


def test_kill_9_then_resume_loses_nothing_and_judges_nothing_twice(tmp_path, tiny_judge) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(200))
    out = tmp_path / "out.jsonl"
    base = [sys.executable, "-m", "judgecli", "judge", str(src), "--judge", str(tiny_judge),
            "--batch-size", "2", "-q"]
    cmd = base + ["-o", str(out)]
    # One thread per process: fast on a loaded machine, and the same sums in every run.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > 0 and len(out.read_bytes().splitlines()) >= 16:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(read_jsonl_prefix(out))
    assert 0 < kept < 200, "the run should have been killed midway"
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"already done {kept}" in resumed.stderr
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [f"q{i}" for i in range(200)]
    reference = tmp_path / "ref.jsonl"
    subprocess.run(base + ["-o", str(reference)], check=True, env=env)
    # Windows are fixed slices of the input, so the resumed run batched the rest exactly
    # as the uninterrupted run did: the files are identical.
    assert out.read_text() == reference.read_text()


def read_jsonl_prefix(path: Path) -> list[dict]:
    good = []
    for line in path.read_bytes().split(b"\n"):
        try:
            good.append(json.loads(line))
        except ValueError:
            break
    return good


BAD = [
    ('{"question": "q", "answer_a": "a"', "in.jsonl:2: not valid JSON"),
    ('[1, 2]', "in.jsonl:2: expected a JSON object"),
    ('{"question": "q", "answer_a": "a"}', "in.jsonl:2: field 'answer_b': missing"),
    ('{"question": 3, "answer_a": "a", "answer_b": "b"}', "in.jsonl:2: field 'question': expected a string"),
    ('{"question": "q", "answer_a": "a", "answer_b": ["b"]}', "in.jsonl:2: field 'answer_b': expected a string"),
    ('{"id": "q0", "question": "q", "answer_a": "a", "answer_b": "b"}', "in.jsonl:2: field 'id': duplicate id 'q0'"),
    ('{"id": 1.5, "question": "q", "answer_a": "a", "answer_b": "b"}', "in.jsonl:2: field 'id': expected a string or an integer"),
    ('{"question": "q", "answer_a": "a", "answer_b": "b", "label": "C"}', "in.jsonl:2: field 'label'"),
    ('{"question": "q", "answer": "a"}', "in.jsonl:2: a single-answer item cannot be judged"),
    ('{"question": "q"}', "in.jsonl:2: field 'answer_a': missing"),
    ('{"question": "q", "question": "r", "answer_a": "a", "answer_b": "b"}', "duplicate key 'question'"),
    ('{"question": NaN, "answer_a": "a", "answer_b": "b"}', "in.jsonl:2: not valid JSON"),
]


@pytest.mark.parametrize("line,message", BAD)
def test_bad_input_names_file_line_and_field(tmp_path, tiny_judge, monkeypatch, capsys, line,
                                             message) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(pairs(1)[0]) + "\n" + line + "\n")
    out = tmp_path / "out.jsonl"
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(out), "-q")
    assert code == 2
    assert message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_invalid_utf8_and_missing_file(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"question": "\xff", "answer_a": "a", "answer_b": "b"}\n')
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--dry-run")
    assert code == 2 and "in.jsonl:1: not valid UTF-8" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(tmp_path / "nope.jsonl"), "--dry-run")
    assert code == 2 and "nope.jsonl: no such file" in err


def test_bom_crlf_and_blank_lines_are_fine(tmp_path, monkeypatch, capsys) -> None:
    src = tmp_path / "in.jsonl"
    rows = [json.dumps(r) for r in pairs(2)]
    src.write_bytes(b"\xef\xbb\xbf" + rows[0].encode() + b"\r\n\r\n" + rows[1].encode() + b"\r\n")
    code, out, _ = cli(monkeypatch, capsys, "judge", str(src), "--dry-run")
    assert code == 0 and len(out.splitlines()) == 4


def test_skip_invalid_writes_rejected_lines(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    src = tmp_path / "in.jsonl"
    good = [json.dumps(r) for r in pairs(3)]
    src.write_bytes("\n".join([good[0], "not json", good[1], '{"question": "q"}', good[2]])
                    .encode() + b"\n\xff\xfe\n")
    out = tmp_path / "out.jsonl"
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "-o", str(out), "-q", "--skip-invalid")
    assert code == 0, err
    assert [r["id"] for r in read_jsonl(out)] == ["q0", "q1", "q2"]
    rejected = read_jsonl(tmp_path / "in.rejected.jsonl")
    assert [(r["line"], r["field"]) for r in rejected] == [(2, None), (4, "answer_a"), (6, None)]
    assert rejected[0]["raw"] == "not json"


def test_map_renames_fields(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "x": "a", "y": {"text": "b"}}])
    code, out, err = cli(monkeypatch, capsys, "judge", str(src), "--dry-run", "--no-swap",
                         "--map", "question=prompt", "--map", "answer_a=x",
                         "--map", "answer_b=y.text")
    assert code == 0, err
    assert "[Question]\np\n" in json.loads(out)["prompt"]
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--dry-run", "--map", "oops")
    assert code == 2 and "DST=SRC" in err


def test_unloadable_judge_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", pairs(1))
    empty = tmp_path / "empty-model"
    empty.mkdir()
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(empty), "-q")
    assert code == 2 and "holds no judge" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", "nosuch:thing")
    assert code == 2 and "unknown judge backend 'nosuch'" in err


def test_subprocess_error_has_no_traceback(tmp_path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"question": 1, "answer_a": "a", "answer_b": "b"}\n')
    proc = subprocess.run([sys.executable, "-m", "judgecli", "judge", str(src), "--dry-run"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == \
        f"judgecli: error: {src}:1: field 'question': expected a string, got int"
