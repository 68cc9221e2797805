"""The named parsers: pure functions, one per output format of the bundled published
judges' templates (JudgeLM, PandaLM, MT-Bench, judgecli's own), registered in ``PARSERS``."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable

from .base import FAIL, PASS, TIE, A, B, Parsed, ParseFailure


def parse_scores(text: str, count: int) -> Parsed:
    """JudgeLM: the first line holds ``count`` numbers separated by one space.

    Follows baaivision/JudgeLM judgelm/llm_judge/common.py ``parse_score``: take the first
    line, turn commas into spaces, split on single spaces, and demand exactly ``count``
    numbers; where that code returns [-1, -1] we report a failure instead. The output is
    stripped first, as gen_model_judgement.py strips it. For two scores the verdict follows
    ``translate_score_to_win_list`` with T = 0: the higher score wins, equal scores tie.
    """
    line = text.strip().split("\n")[0].replace(",", " ")
    parts = line.split(" ")
    if len(parts) != count:
        raise ParseFailure(f"expected {count} score(s) on the first line, got {line[:80]!r}")
    try:
        scores = tuple(float(p) for p in parts)
    except ValueError:
        raise ParseFailure(f"the first line is not {count} number(s): {line[:80]!r}") from None
    if any(s != s or s in (float("inf"), float("-inf")) for s in scores):
        raise ParseFailure(f"the first line is not {count} finite number(s): {line[:80]!r}")
    return Parsed(scores=scores, verdict=verdict_from_scores(scores) if count == 2 else None)


def verdict_from_scores(scores: tuple[float, ...]) -> str:
    if scores[0] > scores[1]:
        return A
    if scores[1] > scores[0]:
        return B
    return TIE


def parse_pandalm(text: str) -> Parsed:
    """PandaLM: the first line is "1", "2" or "Tie" (any case).

    WeOpenML/PandaLM pandalm/utils/pandalm_inference.py ``parse_pandalm_response`` maps
    anything else to a tie; here anything else is a failure.
    """
    first = text.strip().split("\n")[0]
    if first == "1":
        return Parsed(verdict=A)
    if first == "2":
        return Parsed(verdict=B)
    if first.lower() == "tie":
        return Parsed(verdict=TIE)
    raise ParseFailure(f"expected 1, 2 or Tie on the first line, got {first[:80]!r}")


def parse_mtbench_verdict(text: str) -> Parsed:
    """MT-Bench pairwise: "[[A]]", "[[B]]" or "[[C]]" (a tie) anywhere in the text.

    lm-sys/FastChat fastchat/llm_judge/common.py ``run_judge_pair``: the markers are checked
    in the order A, B, C and the first one present wins.
    """
    if "[[A]]" in text:
        return Parsed(verdict=A)
    if "[[B]]" in text:
        return Parsed(verdict=B)
    if "[[C]]" in text:
        return Parsed(verdict=TIE)
    raise ParseFailure("no [[A]], [[B]] or [[C]] verdict in the judgment")


# FastChat's patterns are ``\[\[(\d+\.?\d*)\]\]`` and ``\[(\d+\.?\d*)\]``. These match the same
# strings (digits, then optionally a dot and digits) but cannot backtrack quadratically: on
# "[[" followed by 20,000 digits and no "]]" FastChat's form takes ~15 s, this one ~3 ms.
_ONE_SCORE = re.compile(r"\[\[(\d+(?:\.\d*)?)\]\]")
_ONE_SCORE_BACKUP = re.compile(r"\[(\d+(?:\.\d*)?)\]")


def _rating(written: str) -> float:
    """The number FastChat reads from a rating marker: ``ast.literal_eval`` of the match.

    Where that call raises (and FastChat's judging thread would stop), the judgment fails
    instead: a leading zero ("08" is not a Python literal, "08.5" is), a rating in other
    than ASCII digits ("[[８]]", "[[٨]]": ``\\d`` matches them, literal_eval does not), an
    integer over Python's 4,300-digit limit. A rating that is no finite float fails too."""
    shown = written if len(written) <= 20 else f"{written[:12]}... ({len(written)} chars)"
    if not written.isascii():
        raise ParseFailure(f"the rating {shown!r} is not written in ASCII digits")
    try:
        value = float(ast.literal_eval(written))
    except (SyntaxError, ValueError, OverflowError) as exc:
        # Digits and a dot fail literal_eval only for a leading zero or for size.
        why = "a leading zero" if written[0] == "0" and written.isdigit() else \
            "too large" if isinstance(exc, OverflowError) or len(written) > 4000 else \
            type(exc).__name__
        raise ParseFailure(f"the rating {shown!r} is not a number ({why})") from None
    if not math.isfinite(value):
        raise ParseFailure(f"the rating {shown!r} is not a finite number (too large)")
    return value


def parse_mtbench_rating(text: str) -> Parsed:
    """MT-Bench single answer: "[[rating]]", or FastChat's own fallback "[rating]".

    lm-sys/FastChat fastchat/llm_judge/common.py ``run_judge_single``
    (one_score_pattern, then one_score_pattern_backup; the first match counts, read by
    ``_rating``).
    """
    match = _ONE_SCORE.search(text) or _ONE_SCORE_BACKUP.search(text)
    if not match:
        raise ParseFailure("no [[rating]] in the judgment")
    return Parsed(scores=(_rating(match.group(1)),))


_PASS_FAIL = re.compile(r"\[\[(PASS|FAIL)\]\]")


def parse_pass_fail(text: str) -> Parsed:
    """Binary judgments (judgecli's own pass/fail templates): "[[PASS]]" or "[[FAIL]]".

    The last marker in the text counts: these templates ask for the verdict at the very end,
    after any reasoning, and reasoning may quote the format ("... is it [[PASS]] or ...").
    """
    found = _PASS_FAIL.findall(text)
    if not found:
        raise ParseFailure("no [[PASS]] or [[FAIL]] verdict in the judgment")
    return Parsed(verdict=PASS if found[-1] == "PASS" else FAIL)


_FINAL_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_VERDICT_OF = {"A": A, "B": B, "C": TIE}


def parse_final_verdict(text: str) -> Parsed:
    """judgecli's own pairwise templates: MT-Bench's markers, but the last one counts.

    Those templates ask for the verdict after the reasoning, and a reviewer may well quote
    the first judge's verdict ("the first judge chose [[A]], but ...") before giving its own;
    FastChat's first-present rule would read the quote as the verdict."""
    found = _FINAL_VERDICT.findall(text)
    if not found:
        raise ParseFailure("no [[A]], [[B]] or [[C]] verdict in the judgment")
    return Parsed(verdict=_VERDICT_OF[found[-1]])


def parse_final_rating(text: str) -> Parsed:
    """judgecli's own single-answer templates: "[[rating]]", the last one counting."""
    found = _ONE_SCORE.findall(text)
    if not found:
        raise ParseFailure("no [[rating]] in the judgment")
    return Parsed(scores=(_rating(found[-1]),))


def _scores(text: str, count: int | None) -> Parsed:
    if count is None:
        raise ValueError("the scores parser needs a count")
    return parse_scores(text, count)


# The output formats a template may declare (``output.parser``): one registry, read by the
# template validator too.
PARSERS: dict[str, Callable[[str, int | None], Parsed]] = {
    "scores": _scores,
    "pandalm": lambda text, _: parse_pandalm(text),
    "mtbench-verdict": lambda text, _: parse_mtbench_verdict(text),
    "mtbench-rating": lambda text, _: parse_mtbench_rating(text),
    "final-verdict": lambda text, _: parse_final_verdict(text),
    "final-rating": lambda text, _: parse_final_rating(text),
    "pass-fail": lambda text, _: parse_pass_fail(text),
}
