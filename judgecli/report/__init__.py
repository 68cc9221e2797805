"""``judgecli report``: agreement, bias and reliability of judgment files.

Reads what ``judgecli judge`` writes and never needs a model. One module per job:

    load         judgment files -> compact numpy columns; --map
    delimiters   answers holding their template's own delimiters (prompt injection)
    labels       --labels FILE, joined by id
    agreement    against gold labels: accuracy, macro P/R/F1, kappa, confusion, per order;
                 correlations and MAE for numeric grades
    bias         consistency, position bias, length bias, verdicts per order
    winrate      wins / ties / losses, bootstrap CI, sign test
    reliability  accuracy at coverage, AUROC, ECE
    summary      one report per file and group, --errors
    gates        --fail-under / --fail-over
    render       the rich table;  plot: --plot (matplotlib, optional)
    convert      PandaLM, LLMBar and JudgeLM result files -> judgment records

    >>> from judgecli.report import ReportOptions, build_report
    >>> summary, = build_report(["judged.jsonl"], ReportOptions(errors="tie"))
    >>> summary["agreement"], summary["position_bias"]
"""

from __future__ import annotations

from typing import Any

from .gates import Gate, check_gates, parse_gates
from .labels import read_labels
from .load import Judgments, read_judgments
from .render import render
from .summary import ERROR_POLICIES, KEYS, ReportOptions, build_report, summarise


def as_json(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The --json object: one file's summary itself, several files as ``{"files": [...]}``."""
    return summaries[0] if len(summaries) == 1 else {"files": list(summaries)}


__all__ = ["ERROR_POLICIES", "Gate", "Judgments", "KEYS", "ReportOptions", "as_json",
           "build_report", "check_gates", "parse_gates", "read_judgments", "read_labels",
           "render", "summarise"]
