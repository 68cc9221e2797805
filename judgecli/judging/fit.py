"""``--truncate``: an item's answers cut so that its prompts fit the judge's context window.

Where the judge knows its window (``Judge.room``) and one of an item's prompts would not fit
it with what the judge may write, every answer of the item is cut to the same number of
characters, the most with which every order's prompt fits, and the prompts are rendered
again; the record then says ``judgment.truncated: true``. Answers shorter than that are
shown whole, and the question, the reference and the template are never cut: where they
alone do not fit, the requests go as they are and the judge refuses them (the judgment's
error names the length). Without --truncate nothing is cut and the judge refuses them too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..backends.base import Judge, Request
from ..io.records import Item
from ..templates import Template

# The first cut tried keeps this many characters an answer per token of the window, then
# doubles it: the search renders prompts about the window's size, never a 50 MB answer
# whole (a local judge tokenizes every prompt it weighs).
FIRST_GUESS = 2


class Fit:
    """``--truncate`` for one judge: cuts answers (``requests``), then notes it (``note``)."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self._cut: dict[int, tuple[Item, int]] = {}  # id(item) -> (item, characters kept)

    def requests(self, template: Template, item: Item, orders: Sequence[str],
                 extra: dict[str, dict[str, str]] | None,
                 requests: list[Request]) -> list[Request]:
        """``requests`` (one per order), rendered again with the item's answers cut where
        --truncate is on and one of them does not fit."""
        if not self.judge.truncate or self._fit(requests) or not answers(item):
            return requests

        def render(keep: int) -> list[Request]:
            shown = cut(item, keep)
            return [replace(r, prompt=template.render(shown, order, (extra or {}).get(order)))
                    for r, order in zip(requests, orders, strict=True)]

        keep = most(lambda keep: self._fit(render(keep)), max(map(len, answers(item))),
                    self._guess(requests))
        if keep is None:
            return requests  # the question and template alone are too long: refused
        self._cut[id(item)] = (item, keep)
        return render(keep)

    def note(self, item: Item, judgment: dict[str, Any]) -> None:
        """Mark the judgment of an item whose answers were cut."""
        found = self._cut.pop(id(item), None)
        if found is not None and found[0] is item:
            judgment["truncated"] = True

    def _fit(self, requests: list[Request]) -> bool:
        rooms = [self.judge.room(r) for r in requests]
        return all(room is None or room.fits for room in rooms)

    def _guess(self, requests: list[Request]) -> int:
        rooms = [room for r in requests if (room := self.judge.room(r)) is not None]
        return max(1, FIRST_GUESS * min(room.window for room in rooms)) if rooms else 1


def most(fits: Callable[[int], bool], longest: int, guess: int) -> int | None:
    """The most characters ``keep`` (below ``longest``, which does not fit) with which
    ``fits(keep)``; None when not even 0 fits. Doubles from ``guess`` until it does not fit,
    then bisects."""
    if not fits(0):
        return None
    low, high = 0, longest  # fits(low); not fits(high)
    probe = min(guess, longest - 1)
    while probe > low:
        if not fits(probe):
            high = probe
            break
        low, probe = probe, min(2 * probe, longest - 1)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def answers(item: Item) -> list[str]:
    """The answers an item shows (a pair's two, a single or multi-answer item's, each
    turn's)."""
    found = [item.answer_a, item.answer_b, item.answer, *item.answers]
    for turn in item.turns:
        found += [turn.answer_a, turn.answer_b, turn.answer]
    return [a for a in found if a]


def cut(item: Item, keep: int) -> Item:
    """The item with every answer cut to at most ``keep`` characters."""
    def short(text: str | None) -> str | None:
        return text[:keep] if text is not None else None

    return replace(item, answer_a=short(item.answer_a), answer_b=short(item.answer_b),
                   answer=short(item.answer), answers=tuple(a[:keep] for a in item.answers),
                   turns=tuple(replace(t, answer_a=short(t.answer_a),
                                       answer_b=short(t.answer_b), answer=short(t.answer))
                               for t in item.turns))
