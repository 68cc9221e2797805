"""Arena-Hard's figures where they are shown: report's table and --baseline, compare's pairs
(the figures themselves: test_arenahard.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write_jsonl
from rich.console import Console
from test_arenahard import MODELS, SKILL, report, synthetic, v2_scores

from judgecli.compare import _pair_summaries
from judgecli.report import render


def test_groups_compare_pairs_and_render(tmp_path: Path) -> None:
    rows, raw = synthetic(np.random.default_rng(8), MODELS, SKILL, 8)
    summary = report(tmp_path, rows, by=("model_a", "model_b"), baseline="base", rounds=40)
    pairs = _pair_summaries(summary, None, MODELS)
    first = next(p for p in pairs if (p["model_a"], p["model_b"]) == ("base", "m1"))
    scores = [s for r, (f, s2) in zip(rows, raw, strict=True)
              if (r["model_a"], r["model_b"]) == ("base", "m1") for s in v2_scores(f, s2)]
    assert first["arenahard_score"] == pytest.approx(100 * np.mean(scores), abs=4)
    assert first["arenahard_games"] == 16
    assert all(g["arenahard_ranking"] is None for g in summary["groups"])  # two models each
    console = Console(record=True, width=200)
    render([summary], console)
    text = " ".join(console.export_text().split())  # a long tmp path wraps the title
    assert "Arena-Hard ranking" in text and "baseline base" in text and "m3" in text


def test_cli_baseline_needs_five_level_verdicts(tmp_path: Path) -> None:
    plain = write_jsonl(tmp_path / "plain.jsonl", [
        {"id": 1, "answer_a": "x", "answer_b": "y", "judgment": {"verdict": "A"}}])
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", str(plain),
                           "--baseline", "base"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "--baseline: no five-level verdicts (judgment.orders[].label5) in " + str(plain))
    rows, _ = synthetic(np.random.default_rng(9), MODELS, SKILL, 3)
    path = write_jsonl(tmp_path / "ah.jsonl", rows)
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", str(path), "--json",
                           "--baseline", "base", "--rounds", "20"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r["model"] for r in json.loads(proc.stdout)["arenahard_ranking"]][-1] == "m2"


def test_compare_prints_arena_hards_score_and_ranking(tmp_path: Path) -> None:
    from judgecli.compare import CompareResult
    from judgecli.compare.render import render as render_compare
    from judgecli.judging.runner import RunSummary

    rows, _ = synthetic(np.random.default_rng(8), MODELS, SKILL, 8)
    summary = report(tmp_path, rows, by=("model_a", "model_b"), baseline="base", rounds=40)
    result = CompareResult(models=MODELS, pairs=_pair_summaries(summary, None, MODELS),
                           ranking=None, run=RunSummary(), n_prompts=8,
                           arenahard_ranking=summary["arenahard_ranking"])
    console = Console(record=True, width=200)
    render_compare(result, console)
    text = console.export_text()
    pair = next(p for p in result.pairs if p["model_b"] == "m1")
    assert f"Arena-Hard, m1 vs base: score {pair['arenahard_score']:.2f}" in text
    assert "Arena-Hard ranking, all pairs, baseline base" in text
