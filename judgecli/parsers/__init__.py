"""Reading a judge's output: pure functions, one per output format a template can declare.

Each parser reads only the judge's own text (never the prompt, so an answer that contains a
fake score line cannot change the result) and accepts only the forms the original judge's
code accepts. A failure is a ParseFailure with a reason, never a default verdict.

The named parsers are in ``named``, parsers declared as data in ``specs`` ("regex:..."),
and :func:`parse` dispatches on a template's parser name.
"""

from __future__ import annotations

from .base import FAIL, PASS, TIE, A, B, Parsed, ParseFailure, one_line
from .named import (
    PARSERS,
    parse_final_rating,
    parse_final_verdict,
    parse_mtbench_rating,
    parse_mtbench_verdict,
    parse_pandalm,
    parse_pass_fail,
    parse_scores,
    verdict_from_scores,
)
from .specs import reader_of

__all__ = ["A", "B", "FAIL", "PARSERS", "PASS", "TIE", "ParseFailure", "Parsed", "one_line",
           "parse", "parse_final_rating", "parse_final_verdict", "parse_mtbench_rating",
           "parse_mtbench_verdict", "parse_pandalm", "parse_pass_fail", "parse_scores",
           "verdict_from_scores"]


def parse(parser: str, text: str, count: int | None = None) -> Parsed:
    """Dispatch on a template's declared parser name. Raises only ParseFailure (and
    ValueError for an unknown name): whatever a parser raises on a reply becomes that
    reply's ParseFailure, so that no judge's text can stop a run (issue 14)."""
    try:
        reader = PARSERS[parser]
    except KeyError:
        reader = reader_of(parser)  # a parser declared as data ("regex:...")
    try:
        return reader(text, count)
    except ParseFailure:
        raise
    except Exception as exc:  # a parser's bug met by some reply: the reply's failure
        raise ParseFailure(f"the {parser} parser failed on this reply: {one_line(exc)}") \
            from None
