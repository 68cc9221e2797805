"""``judgecli report``: agreement, bias and reliability of judgment files.

Reads what ``judgecli judge`` writes and never needs a model. One module per job:

    load         judgment files -> compact numpy columns; --map
    columns      one judgment's columns (verdict, orders, score, confidence); the file's kind
    views        panel members (judgment.panel) and reviews (judgment.review) as judgments
    delimiters   answers holding their template's own delimiters (prompt injection)
    labels       --labels FILE, joined by id
    agreement    against gold labels: accuracy, macro P/R/F1, kappa, confusion, per order,
                 F1 of "fail" for pass/fail judgments
    grades       grades against numeric labels: Pearson, Spearman, Kendall, MAE
    bias         consistency, position bias, length bias, verdicts per order
    winrate      wins / ties / losses, bootstrap CI, sign test; pass rate
    alpacaeval   AlpacaEval's win rate, standard error, discrete and length-controlled win
                 rates, from judgment.preference (convert alpacaeval)
    arenahard    Arena-Hard's score and Bradley-Terry ranking against a baseline, from
                 judgment.orders[].label5
    bradley_terry  the Bradley-Terry fit (Arena-Hard's and compare's rankings)
    corrected    labels on part of the items: the judge's win rate, pass rate or mean grade
                 and Bradley-Terry ratings corrected by them (PPI++, ``ppi``), with intervals;
                 imported only then (render_corrected prints them)
    models       each item's model_a / model_b and its model pair, read once a record
    style        --style-control: Arena-Hard v2.0's style-controlled Bradley-Terry fit, from
                 each answer's length and markdown (answer_style)
    reliability  accuracy at coverage, AUROC, ECE
    panel        a panel's members: Krippendorff's alpha, agreement, unanimity
    review       what a reviewing judge changed, fixed and broke
    judges       the judge x template table: the file's, each member's, the review's rows
    summary      one report per file and group, --errors
    gates        --fail-under / --fail-over
    render       the rich table;  plot: --plot (matplotlib, optional)
    convert      PandaLM, LLMBar, JudgeLM and AlpacaEval result files -> judgment records

    >>> from judgecli.report import ReportOptions, build_report
    >>> summary, = build_report(["judged.jsonl"], ReportOptions(errors="tie"))
    >>> summary["agreement"], summary["position_bias"]
"""

from __future__ import annotations

from typing import Any

from .gates import Gate, check_gates, parse_gates
from .judges import JUDGE_KEYS, judge_table
from .labels import read_labels
from .load import Judgments, read_judgments
from .render import render
from .summary import ERROR_POLICIES, KEYS, ReportOptions, build_report, summarise


def as_json(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The --json object: one file's summary itself, several files as ``{"files": [...],
    "judges": [...]}`` with every file's judge x template rows in one table."""
    if len(summaries) == 1:
        return summaries[0]
    return {"files": [{k: v for k, v in s.items() if k != "judges"} for s in summaries],
            "judges": judge_table(summaries)}


__all__ = ["ERROR_POLICIES", "Gate", "JUDGE_KEYS", "Judgments", "KEYS", "ReportOptions",
           "as_json", "build_report", "check_gates", "judge_table", "parse_gates",
           "read_judgments", "read_labels", "render", "summarise"]
