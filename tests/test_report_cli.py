"""`judgecli report` on the command line: table, --json, --by, several files, gates, --plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_report_helpers import record, write

REQUIRED = ("n", "agreement", "precision", "recall", "f1", "kappa", "consistency",
            "agreement_by_order", "agreement_both_orders", "position_bias", "win_rate",
            "win_rate_ci", "tie_rate", "error_rate")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgecli", "report", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def _rows() -> list[dict[str, Any]]:
    verdicts = ["A", "A", "B", "tie", "A", "B", "B", "A"]
    labels = ["A", "B", "B", "tie", "A", "A", "B", "A"]
    bas = ["A", "B", "B", "tie", "tie", "B", "A", "A"]
    return [record(i, v if v == ba else "tie", label=g, ab=v, ba=ba, confidence=0.5 + i / 20,
                   category="math" if i % 2 else "code")
            for i, (v, g, ba) in enumerate(zip(verdicts, labels, bas, strict=True))]


@pytest.fixture()
def judged(tmp_path: Path) -> str:
    return write(tmp_path / "judged.jsonl", _rows())


def test_json_has_every_required_key(judged: str) -> None:
    proc = run(judged, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in REQUIRED:
        assert key in out, key
    assert out["n"] == 8 and len(out["win_rate_ci"]) == 2
    assert set(out["agreement_by_order"]) == {"AB", "BA"}
    for key in REQUIRED:
        value = out[key]
        if isinstance(value, float):
            assert 0.0 <= value <= 1.0, key
    assert all(k == k.lower() and " " not in k for k in out)


def test_table_stdin_and_by(judged: str) -> None:
    proc = run("-", stdin=Path(judged).read_text())
    assert proc.returncode == 0, proc.stderr
    assert "<stdin>" in proc.stdout and "agreement (accuracy)" in proc.stdout
    assert "position bias" in proc.stdout and "confusion" in proc.stdout
    proc = run(judged, "--by", "category", "--json")
    groups = json.loads(proc.stdout)["groups"]
    assert [g["group"] for g in groups] == ["code", "math"]
    assert sum(g["n"] for g in groups) == 8
    table = run(judged, "--by", "category").stdout
    assert "math" in table and "code" in table and "(all)" in table


def test_several_files_side_by_side(tmp_path: Path, judged: str) -> None:
    other = write(tmp_path / "other.jsonl", [record(i, "A", label="A") for i in range(10)])
    proc = run(judged, other, "--json")
    assert proc.returncode == 0, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert [f["file"] for f in files] == [judged, other]
    assert [f["n"] for f in files] == [8, 8] and files[1]["n_unshared"] == 2
    table = run(judged, other).stdout
    assert "judged.jsonl" in table and "other.jsonl" in table


def test_gates(judged: str) -> None:
    rows = _rows()
    agreement = sum(r["judgment"]["verdict"] == r["label"] for r in rows) / len(rows)
    ok = run(judged, "--fail-under", f"agreement={agreement}", "--fail-over",
             "position_bias=0.5")
    assert ok.returncode == 0, ok.stderr
    proc = run(judged, "--json", "--fail-under", "agreement=0.9", "--fail-over",
               "position_bias=0.1", "--fail-under", "auroc=0")
    assert proc.returncode == 1
    assert f"gate failed: agreement {agreement:.4g} < 0.9 in {judged}" in proc.stderr
    assert "gate failed: position_bias 0.125 > 0.1" in proc.stderr
    assert proc.stderr.count("gate failed") == 2
    gates = json.loads(proc.stdout)["gates"]
    assert [(g["figure"], g["passed"]) for g in gates] == [
        ("agreement", False), ("auroc", True), ("position_bias", False)]
    assert gates[0]["value"] == agreement and gates[0]["fail_under"] == 0.9


def test_gate_on_missing_figure_fails(tmp_path: Path) -> None:
    unlabelled = write(tmp_path / "u.jsonl", [record(i, "A") for i in range(3)])
    proc = run(unlabelled, "--fail-under", "agreement=0.5")
    assert proc.returncode == 1 and "agreement is not available" in proc.stderr


@pytest.mark.parametrize("args", [
    ("--fail-under", "agreemnt=0.5"),
    ("--fail-under", "agreement"),
    ("--errors", "maybe"),
])
def test_bad_options_exit_2_with_one_line(judged: str, args: tuple[str, ...]) -> None:
    proc = run(judged, *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("judgecli: error: ") and proc.stderr.count("\n") == 1


def test_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record(1, "A")) + "\n{oops\n")
    proc = run(str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{path}:2" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_plot(tmp_path: Path, judged: str, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / f"reliability{suffix}"
    proc = run(judged, "--plot", str(out))
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"<svg" in data and b"Reliability diagram" in data


def test_plot_without_confidence_is_an_error(tmp_path: Path) -> None:
    plain = write(tmp_path / "p.jsonl", [record(i, "A", label="A") for i in range(3)])
    proc = run(plain, "--plot", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and "nothing to plot" in proc.stderr
