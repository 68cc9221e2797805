"""Swap debiasing, kept outside the judge: present the answers in both orders, map each
order's result back to the original A/B, and combine.

Rules for combining the two orders:

* ``strict`` (the default): a winner only when both orders agree, otherwise a tie. This is
  MT-Bench's rule (Zheng et al. 2023; FastChat ``compute_agreement.py`` and the paper's
  "conservative" swap), and it works for every template, verdict-only ones too.
* ``average``: each answer's scores averaged over both orders, then compared (Wang et al.
  2023, "Large Language Models are not Fair Evaluators": Balanced Position Calibration).
  For templates without scores, each order's verdict counts 1 / 0.5 / 0 for A.

Whichever rule gives the verdict, its ``confidence`` is the verdict's probability averaged
over the orders judged (:func:`verdict_probability`), as a panel's is over its members and
as ``indicators.verdict_prob`` is. Not the probability that the rule *outputs* the verdict:
for a strict tie that counts every disagreement of the orders as support, so two orders
sure of opposite winners (0.9 A, 0.9 B) made a near-certain tie (1 - 0.9 * 0.1 - 0.1 * 0.9 =
0.82) where the judge gave a tie at most 0.1, and the items it was least sure of looked
among its surest.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..parsers import TIE, A, B, Parsed, verdict_from_scores
from .choices import COMBINE_RULES

_FLIP = {A: B, B: A, TIE: TIE}
# Arena-Hard's five-level verdict seen from the other order (its games 1 and 2).
_FLIP5 = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}


@dataclass(frozen=True)
class OrderResult:
    """One order's result, already in the original A/B terms."""

    order: str
    text: str | None
    scores: tuple[float, ...] | None = None  # as parsed, in the order presented
    score_a: float | None = None
    score_b: float | None = None
    verdict: str | None = None
    probs: dict[str, float] | None = None  # verdict -> probability, original A/B terms
    error: str | None = None
    label5: str | None = None  # Arena-Hard's five-level verdict, original A/B terms

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"order": self.order, "text": self.text,
                                  "scores": list(self.scores) if self.scores else None}
        if self.score_a is not None or self.verdict is not None or self.probs is not None:
            out.update(score_a=self.score_a, score_b=self.score_b, verdict=self.verdict,
                       probs=self.probs)
        if self.label5 is not None:
            out["label5"] = self.label5
        out["error"] = self.error
        return out


def map_back(order: str, parsed: Parsed, text: str, probs: dict[str, float] | None,
             ) -> OrderResult:
    """Undo the presentation order: in ``BA`` the first answer shown was the original B."""
    score_a = score_b = None
    if parsed.scores is not None and len(parsed.scores) == 2:
        score_a, score_b = parsed.scores
        if order == "BA":
            score_a, score_b = score_b, score_a
    verdict, label5 = parsed.verdict, parsed.label5
    if order == "BA":
        verdict = _FLIP[verdict] if verdict is not None else None
        probs = {_FLIP[k]: v for k, v in probs.items()} if probs is not None else None
        label5 = _FLIP5[label5] if label5 is not None else None
    return OrderResult(order=order, text=text, scores=parsed.scores, score_a=score_a,
                       score_b=score_b, verdict=verdict, probs=probs, label5=label5)


@dataclass(frozen=True)
class Combined:
    verdict: str | None
    score_a: float | None
    score_b: float | None
    confidence: float | None
    consistent: bool | None
    error: str | None


def combine(results: list[OrderResult], rule: str = "strict") -> Combined:
    """Combine one or two orders into the item's verdict."""
    failed = [r for r in results if r.error is not None]
    if failed:
        reasons = "; ".join(f"{r.order}: {r.error}" for r in failed)
        return Combined(None, None, None, None, None, reasons)
    if len(results) == 1:
        only = results[0]
        return Combined(only.verdict, only.score_a, only.score_b,
                        verdict_probability(results, only.verdict), None, None)
    first, second = results
    consistent = first.verdict == second.verdict
    have_scores = all(r.score_a is not None and r.score_b is not None for r in results)
    if rule == "strict":
        verdict = first.verdict if consistent else TIE
    elif rule == "average":
        if have_scores:
            verdict = verdict_from_scores((_mean(first.score_a, second.score_a),
                                           _mean(first.score_b, second.score_b)))
        else:
            points = sum({A: 1.0, TIE: 0.5, B: 0.0}[r.verdict or TIE] for r in results) / 2
            verdict = A if points > 0.5 else B if points < 0.5 else TIE
    else:
        raise ValueError(f"unknown combine rule {rule!r}; use one of {COMBINE_RULES}")
    score_a = _mean(first.score_a, second.score_a) if have_scores else None
    score_b = _mean(first.score_b, second.score_b) if have_scores else None
    return Combined(verdict, score_a, score_b, verdict_probability(results, verdict),
                    consistent, None)


def _mean(x: float | None, y: float | None) -> float:
    assert x is not None and y is not None
    return (x + y) / 2


def verdict_probability(results: list[OrderResult], verdict: str | None) -> float | None:
    """The verdict's probability averaged over the orders: each order's own probability of
    the final verdict, in the original A/B terms. None without a verdict or where an order
    has no probabilities (a verdict-only judge without logprobs)."""
    if verdict is None or not results or any(r.probs is None for r in results):
        return None
    return sum((r.probs or {}).get(verdict, 0.0) for r in results) / len(results)
