"""Arena-Hard: one version's rule per figure (v2.0's score, v0.1's ranking with v0.1's
battles), one score per pair wherever it is printed, and no pooled headline for a file of
several model pairs (issue 22 item 4). Expected values come from test_arenahard.py's
re-statement of lmarena/arena-hard-auto (v0.1 ``get_battles_from_judgment`` gives a game
without a score weight 0 and keeps the other game; v2.0 ``load_judgments`` drops a judgment
with a null game).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from test_arenahard import (
    MODELS,
    SKILL,
    battles,
    by_model,
    mle_elo,
    record,
    report,
    synthetic,
    v2_scores,
)

from judgecli.compare import CompareResult, _pair_summaries
from judgecli.compare.render import render as render_compare
from judgecli.judging.runner import RunSummary
from judgecli.report import render


def with_failures(rng: np.random.Generator, share: float):  # noqa: ANN201
    """The synthetic judgments with ``share`` of the games failed (unparseable)."""
    rows, raw = synthetic(rng, MODELS, SKILL, 60)
    failed_raw = []
    for k, (first, second) in enumerate(raw):
        first = None if rng.random() < share else first
        second = None if rng.random() < share else second
        failed_raw.append((first, second))
        r = rows[k]
        rows[k] = record(r["id"].split("|")[0], r["model_a"], r["model_b"], first, second)
    return rows, failed_raw


def test_the_ranking_keeps_a_failed_games_other_game_and_the_score_does_not(
        tmp_path: Path) -> None:
    rows, raw = with_failures(np.random.default_rng(4), 0.05)
    assert sum(g is None for pair in raw for g in pair) > 20
    out = report(tmp_path, rows, baseline="base", rounds=30)
    v01 = mle_elo(battles(rows, raw), MODELS, "base")  # v0.1: the other game counts
    for model, row in by_model(out).items():
        assert row["rating"] == pytest.approx(v01[model], abs=1e-3)
    # v2.0's score: the items without a failed game only
    groups = {g["group"]: g for g in out["groups"]}
    for model in MODELS[1:]:
        kept = [(f, s) for r, (f, s) in zip(rows, raw, strict=True)
                if (r["model_a"], r["model_b"]) == ("base", model)
                and f is not None and s is not None]
        assert groups[f"base / {model}"]["arenahard_games"] == 2 * len(kept)
        scores = [x for f, s in kept for x in v2_scores(f, s)]
        assert groups[f"base / {model}"]["arenahard_score"] == pytest.approx(
            100 * np.mean(scores), abs=3)


def test_one_score_per_pair(tmp_path: Path) -> None:
    rows, _ = synthetic(np.random.default_rng(6), MODELS, SKILL, 30)
    out = report(tmp_path, rows, baseline="base", rounds=50)
    groups = {g["group"]: g for g in out["groups"]}
    for model, row in by_model(out).items():
        if model == "base":
            continue
        pair = groups[f"base / {model}"]
        assert (row["score"], row["score_ci"]) == \
            (pair["arenahard_score"], pair["arenahard_score_ci"])
    # the baseline as B: the ranking shows 100 minus the pair's score of B
    flipped = [{**r, "model_a": r["model_b"], "model_b": r["model_a"],
                "judgment": {**r["judgment"], "orders": [
                    {**o, "order": "BA" if o["order"] == "AB" else "AB"}
                    for o in r["judgment"]["orders"]]}}
               if r["model_a"] == "base" and r["model_b"] == "m2" else r for r in rows]
    out = report(tmp_path, flipped, baseline="base", rounds=50)
    pair = next(g for g in out["groups"] if g["group"] == "m2 / base")
    row = by_model(out)["m2"]
    assert row["score"] == pytest.approx(100 - pair["arenahard_score"], abs=1e-9)
    assert row["score_ci"] == pytest.approx([100 - pair["arenahard_score_ci"][1],
                                             100 - pair["arenahard_score_ci"][0]], abs=1e-9)


def test_compare_prints_one_score_per_pair(tmp_path: Path) -> None:
    rows, _ = synthetic(np.random.default_rng(8), MODELS, SKILL, 20)
    summary = report(tmp_path, rows, by=("model_a", "model_b"), baseline="base", rounds=40)
    result = CompareResult(models=MODELS, pairs=_pair_summaries(summary, None, MODELS),
                           ranking=None, run=RunSummary(), n_prompts=20,
                           arenahard_ranking=summary["arenahard_ranking"])
    console = Console(record=True, width=250, file=io.StringIO())
    render_compare(result, console)
    text = console.export_text()
    for model in MODELS[1:]:
        line = re.search(rf"Arena-Hard, {model} vs base: score (\d+\.\d\d)", text)
        assert line is not None
        table_row = re.search(rf"│\s*\d+\s*│ {model}\s*│\s*\d+\s*│\s*(\d+\.\d\d)", text)
        assert table_row is not None and table_row.group(1) == line.group(1)


def test_no_pooled_headline_for_several_model_pairs(tmp_path: Path) -> None:
    rows, _ = synthetic(np.random.default_rng(3), MODELS, SKILL, 10)
    out = report(tmp_path, rows, baseline="base", rounds=20)  # no --by
    assert out["n_model_pairs"] == 6 and len(out["groups"]) == 6
    for key in ("win_rate", "wins", "win_rate_ci", "arenahard_score"):
        assert out[key] is None, key
    assert all(g["win_rate"] is not None for g in out["groups"])
    assert any("6 model pairs" in note for note in out["notes"])
    console = Console(record=True, width=250, file=io.StringIO())
    render([out], console)
    text = console.export_text()
    assert "(all)" not in text and "win rate of A" not in text
    assert text.index("base / m1") < text.index("Arena-Hard ranking")
    # one pair: the headline as before
    one = report(tmp_path, [r for r in rows if r["model_b"] == "m1"
                            and r["model_a"] == "base"], rounds=20)
    assert "n_model_pairs" not in one and one["win_rate"] is not None
