"""Second-level review: a reviewer judge checks a first judge's verdict and keeps or
overturns it (Biskupski & Kleber 2026 test such a second-level judge).

The reviewer's template (``review-pair``, ``review-single``, ``review-binary`` or a user's
own) shows the item as usual plus two placeholders filled from the first judgment:
``{first_verdict}``, the first judge's verdict in the reviewer's output format and in the
order the answers are shown (``[[A]]``, ``[[7]]``, ``[[PASS]]``), and ``{first_judgment}``,
the first judge's own text for that order (its explanation: with a reviewer, ``--mode auto``
makes the first judge explain). With ``--swap`` the reviewer sees both orders too, each
with the first judge's text of that order, and its two verdicts combine as the first
judge's do.

The record keeps the first judgment as it is and adds ``judgment.review``: the reviewer's
judgment, ``first_verdict`` and ``changed`` (null when the review failed, in which case the
first verdict stands). Items whose first judgment failed are not reviewed.
"""

from __future__ import annotations

from typing import Any

from ..errors import BudgetExhausted, JudgecliError
from ..io.ids import id_key, records_by_item
from ..io.records import Item
from ..judging.runner import Judging
from ..parsers import TIE, A, B
from ..templates import Template, placeholders
from .panel import template_verdicts, verdict_kind

_MARKER = {A: "[[A]]", B: "[[B]]", TIE: "[[C]]"}
_FLIP = {A: B, B: A, TIE: TIE}


def check_review_templates(first: Template, review: Template) -> None:
    """Checked before any judge is loaded."""
    shown = set(placeholders(review.system + review.user + review.text))
    if "first_verdict" not in shown:
        raise JudgecliError(f"template '{review.name}' does not show {{first_verdict}}, so "
                            "it cannot review a verdict; use review-pair, review-single or "
                            "review-binary, or a template of your own with {first_verdict} "
                            "and {first_judgment}")
    if template_verdicts(first) == "multi":
        raise JudgecliError("multi-answer judgments cannot be reviewed")
    if template_verdicts(first) != template_verdicts(review):
        raise JudgecliError(f"review template '{review.name}' does not judge the same kind "
                            f"of verdict as '{first.name}'")


class Review:
    """A Judging-like object: the first judge's records, each with a ``review``."""

    def __init__(self, first: Judging, reviewer: Judging) -> None:
        check_review_templates(first.options.template, reviewer.options.template)
        self.first, self.reviewer = first, reviewer
        self.kind = verdict_kind(first)
        self.judge = first.judge  # the runner sizes windows by the first judge's batches

    def check_item(self, item: Item) -> None:
        self.first.check_item(item)
        self.reviewer.check_item(item)

    def judge_items(self, items: list[Item]) -> list[dict[str, Any]]:
        stopped: BudgetExhausted | None = None
        try:
            records = self.first.judge_items(items)
        except BudgetExhausted as stop:
            # Review what the first judge finished; the rest is left for --resume.
            stopped, found = stop, records_by_item(stop.records, items)
            items = [item for item, record in zip(items, found, strict=True) if record]
            records = [record for record in found if record]
        wanted = [(item, record) for item, record in zip(items, records, strict=True)
                  if record["judgment"].get("error") is None
                  and self._first_value(record["judgment"]) is not None]
        reviewed: list[dict[str, Any]] = []
        if wanted:
            try:
                reviewed = self.reviewer.judge_items(
                    [item for item, _ in wanted],
                    [self._extra(item, record["judgment"]) for item, record in wanted])
            except BudgetExhausted as stop:
                reviewed, stopped = stop.records, stop
        by_id = {id_key(r["id"]): r["judgment"] for r in reviewed}
        waiting = {id_key(item.id) for item, _ in wanted}
        out = []
        for item, record in zip(items, records, strict=True):
            key = id_key(item.id)
            if key in by_id:
                record["judgment"]["review"] = self._review(record["judgment"], by_id[key])
            elif key in waiting:
                continue  # not reviewed before the budget ran out: left for --resume
            out.append(record)
        if stopped is not None:
            stopped.records = out
            raise stopped
        return out

    def _first_value(self, judgment: dict[str, Any]) -> Any:
        return judgment.get("score") if self.kind == "grade" else judgment.get("verdict")

    def _extra(self, item: Item, judgment: dict[str, Any]) -> dict[str, dict[str, str]]:
        # The reviewer judges the same orders as the first judge (one --swap for both), and
        # in each order sees what the first judge wrote and decided in that order: the
        # verdict of that order, not the combined one, so that text and verdict match.
        # A single answer's one entry names no order: it is the only one, "AB".
        orders = {o.get("order", "AB"): o for o in judgment.get("orders") or ()}
        extra = {}
        for order in self.reviewer.options.orders(item):
            seen = orders.get(order) or {}
            text = (seen.get("text") or "").strip()
            extra[order] = {"first_verdict": self._shown(judgment, seen, order),
                            "first_judgment": text or "(no explanation)"}
        return extra

    def _shown(self, judgment: dict[str, Any], seen: dict[str, Any], order: str) -> str:
        """The first verdict as the reviewer would write it, in the order shown."""
        if self.kind == "grade":
            return f"[[{judgment['score']:g}]]"
        verdict = judgment["verdict"]
        if self.kind == "binary":
            return f"[[{verdict.upper()}]]"
        if seen.get("error") is None and seen.get("verdict") in _MARKER:
            verdict = seen["verdict"]  # that order's own verdict, in original A/B terms
        return _MARKER[_FLIP[verdict] if order == "BA" else verdict]

    def _review(self, first: dict[str, Any], review: dict[str, Any]) -> dict[str, Any]:
        before, after = self._first_value(first), self._first_value(review)
        review["first_verdict"] = before
        review["changed"] = None if review.get("error") is not None or after is None \
            else after != before
        return review

