"""What a run writes for the published judges' own figures (issue 15): AlpacaEval 2's
``judgment.preference`` (what report's win rates read) and, for a rating a data parser reads
from a closed set, the confidence an API judge's logprobs give it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from conftest import read_jsonl, run_cli, write_jsonl
from fault_server import FaultServer


def test_alpacaeval2_run_writes_its_preference_and_report_reads_it(
        tmp_path: Path, tiny_judge: Path, monkeypatch, capsys) -> None:
    rows = [{"id": i, "question": f"What is {i} + {i}?", "answer_a": str(2 * i),
             "answer_b": f"{2 * i + 1} {{}}"} for i in range(4)]
    src = write_jsonl(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "-t", "alpacaeval2", "-q", "-o", str(out))
    assert code == 0, err
    preferences = []
    for record in read_jsonl(out):
        judgment = record["judgment"]
        assert judgment["error"] is None
        # AlpacaEval's preference: 2 - P(m) in the order shown, mapped back with 3 - p when
        # the outputs were switched (pairwise_evaluator.py), averaged over the two orders.
        shown = []
        for order in judgment["orders"]:
            # Each order's probs are in the original A/B terms already; re-derive the shown
            # order's P(m) (m = the first output shown) and map back as AlpacaEval does.
            p_first = order["probs"]["A"] if order["order"] == "AB" else order["probs"]["B"]
            preference = 2 - p_first
            shown.append(preference if order["order"] == "AB" else 3 - preference)
        expected = sum(shown) / len(shown)
        assert 1 <= judgment["preference"] <= 2
        assert math.isclose(judgment["preference"], expected, abs_tol=1e-12)
        preferences.append(expected)
    code, report, err = run_cli(monkeypatch, capsys, "report", str(out), "--json")
    assert code == 0, err
    figures = json.loads(report)
    win_rate = 100 * sum(p - 1 for p in preferences) / len(preferences)
    assert math.isclose(figures["alpacaeval_win_rate"], win_rate, abs_tol=1e-9)
    assert figures["alpacaeval_n_total"] == len(rows)


def test_api_rating_read_by_a_data_parser_has_its_logprob_confidence(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "question": "ITEM-1 Say hi.",
                                         "answer": "Hi."}])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp_path / "cache"))
    reply = "Rating: [[3]] is what a first draft said.\nFine overall.\n\nRating: [[7]]"
    with FaultServer(reply=lambda prompt: reply) as server:
        proc = subprocess.run([sys.executable, "-m", "judgecli", "judge", "in.jsonl",
                               "--judge", "openai:gpt-4o", "--base-url", server.url,
                               "-t", "autoj-single", "-q", "-o", "out.jsonl"],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 0, proc.stderr
    judgment = read_jsonl(tmp_path / "out.jsonl")[0]["judgment"]
    assert judgment["score"] == 7 and judgment["error"] is None
    # The server gave the rating token 0.80, a runner-up rating 0.15 and a non-value 0.05
    # (tests/fault_server.py _alternatives); renormalised over the values Auto-J allows, the
    # last rating (the one its parser reads) has 0.80 / 0.95.
    assert math.isclose(judgment["confidence"], 0.80 / 0.95, rel_tol=1e-9)
