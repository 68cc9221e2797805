"""From a score line's value distributions to the probability of each verdict.

A score-mode judge reports, for each slot of its score line, the probability of each value
(restricted to the template's format). For two scores, P(A) is the probability that the
first is higher, P(B) that the second is, P(tie) that they are equal, the slots taken as
independent. For a verdict line (PandaLM's 1 / 2 / Tie) the values are the verdicts, and so
are MT-Bench's verdict letters (A / B / C for a tie), read by an API judge from logprobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..parsers import FAIL, PASS, TIE, A, B, Parsed
from ..parsers import specs as parser_specs

_PANDALM = {"1": A, "2": B, "tie": TIE}
_MTBENCH = {"A": A, "B": B, "C": TIE}
_PASS_FAIL = {"PASS": PASS, "FAIL": FAIL}


def verdict_probs(slot_probs: tuple[dict[str, float], ...] | None, parser: str,
                  ) -> dict[str, float] | None:
    """Verdict -> probability, in the presented order; None where it does not apply."""
    if not slot_probs:
        return None
    if parser in ("pandalm", "mtbench-verdict", "final-verdict") and len(slot_probs) == 1:
        out = {A: 0.0, B: 0.0, TIE: 0.0}
        for value, p in slot_probs[0].items():
            out[_PANDALM[value.lower()] if parser == "pandalm" else _MTBENCH[value]] += p
        return out
    if parser == "pass-fail" and len(slot_probs) == 1:
        out = {PASS: 0.0, FAIL: 0.0}
        for value, p in slot_probs[0].items():
            out[_PASS_FAIL[value]] += p
        return out
    if parser == "scores" and len(slot_probs) == 2:
        first = [(float(v), p) for v, p in slot_probs[0].items()]
        second = [(float(v), p) for v, p in slot_probs[1].items()]
        out = {A: 0.0, B: 0.0, TIE: 0.0}
        for s1, p1 in first:
            for s2, p2 in second:
                key = A if s1 > s2 else B if s2 > s1 else TIE
                out[key] += p1 * p2
        return out
    if parser_specs.is_data(parser) and len(slot_probs) == 1:
        # A parser declared as data: its map gives each value written a verdict.
        spec = parser_specs.decode(parser)
        verdicts = [spec.verdict_of(value) for value in slot_probs[0]]
        if spec.kind != "verdict" or None in verdicts:
            return None
        out = {A: 0.0, B: 0.0, TIE: 0.0}
        for verdict, p in zip(verdicts, slot_probs[0].values(), strict=True):
            out[str(verdict)] += p
        return out
    return None


def read_from_top(slot_probs: tuple[dict[str, float], ...] | None, parser: str | None,
                  ) -> Parsed | None:
    """The verdict of a parser that reads the top logprobs (``tokens: top``: AlpacaEval's
    ``logprob_parser``, which scores from them whatever token was sampled): the more probable
    value's, a tie where both are as probable (AlpacaEval's preference 1.5, a draw); None
    for any other parser or where there are no probabilities (the text is read instead)."""
    if not slot_probs or not parser_specs.is_data(parser) or \
            not parser_specs.decode(str(parser)).top:
        return None
    probs = verdict_probs(slot_probs, str(parser))
    if probs is None:
        return None
    verdict = A if probs[A] > probs[B] else B if probs[B] > probs[A] else TIE
    return Parsed(verdict=verdict)


def alpacaeval_preference(probs: Sequence[dict[str, float] | None]) -> float | None:
    """AlpacaEval's preference, 1 + P(B better) in [1, 2], from each order's verdict
    probabilities in the original A/B terms, averaged over the orders; None unless every
    order has them. tatsu-lab/alpaca_eval ``completion_parsers.py`` ``logprob_parser`` with
    ``is_binarize: false`` gives 2 - P(first output) in the order shown, P renormalised over
    its two tokens; ``annotators/pairwise_evaluator.py`` shows the outputs switched at random
    (``RandomSwitchTwoColumnsProcessor``) and maps a switched preference p back to 3 - p.
    Here both orders may be judged (the swap) and their preferences averaged."""
    if not probs or any(p is None for p in probs):
        return None
    return 1.0 + sum(float((p or {}).get(B, 0.0)) for p in probs) / len(probs)


def line_prob(slot_probs: tuple[dict[str, float], ...] | None, values: list[str]) -> float | None:
    """Probability of the written values (single and multi answer: each slot's choice)."""
    if not slot_probs or len(slot_probs) != len(values):
        return None
    prob = 1.0
    for dist, value in zip(slot_probs, values):
        prob *= dist.get(value, 0.0)
    return prob


def order_average(orders: Any, classes: Sequence[str]) -> dict[str, float] | None:
    """A judgment record's verdict probabilities averaged over its orders (``orders`` as
    written in ``judgment.orders``); None unless every order has them."""
    probs = [o.get("probs") for o in orders or ()]
    if not probs or not all(isinstance(p, dict) for p in probs):
        return None
    return {c: sum(float(p.get(c, 0.0)) for p in probs) / len(probs) for c in classes}
