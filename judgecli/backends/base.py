"""The judge interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..templates import Prompt, ScoreLine


@dataclass(frozen=True)
class Request:
    """One judge call. With ``score_line`` set the backend writes only the score line,
    restricted to that format, and reports each slot's value distribution."""

    prompt: Prompt
    score_line: ScoreLine | None = None
    count: int = 0  # how many values the score line holds (score mode)
    max_new_tokens: int = 512
    # How the judgment will be read (the template's parser and its score values), so that a
    # backend that sees only token log-probabilities (an API) can report ``slot_probs``.
    parser: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completion:
    """What the judge wrote. ``slot_probs``: per score-line slot, value -> probability."""

    text: str | None
    slot_probs: tuple[dict[str, float], ...] | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Judge(ABC):
    """A judge model. Only ``complete`` is required; the rest have defaults."""

    #: the spec the judge was loaded from, recorded in every judgment
    name: str = ""
    #: whether ``Request.score_line`` is honoured (local models with next-token probabilities)
    supports_score_mode: bool = False

    @abstractmethod
    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        """Judge a batch; one Completion per request, in order. A failed request is a
        Completion with ``error`` set, never an exception for the whole batch. On Ctrl-C,
        a backend may set ``completions`` on the KeyboardInterrupt (one entry per request,
        None for those unfinished), so that the finished ones are written."""

    #: Whether ``start`` begins the work at once, so that a runner may hand over the next
    #: window before finishing the last (``runner.judge_file``).
    overlaps = False

    def start(self, requests: Sequence[Request]) -> Any:
        """Hand over a batch to be finished by ``finish``; by default nothing begins before
        ``finish`` (which calls ``complete``)."""
        return list(requests)

    def finish(self, ticket: Any) -> list[Completion]:
        """The completions of a batch handed over by ``start``, in order."""
        return self.complete(ticket)

    def preferred_batch(self) -> int:
        """How many requests the judge likes to receive at once."""
        return 16

    def close(self) -> None:
        """Release resources (connections, GPU memory)."""

    def usage_report(self) -> str | None:
        """One line on tokens and cost for the end of a run; None where nothing is metered."""
        return None
