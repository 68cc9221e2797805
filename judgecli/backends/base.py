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
    # --resample: the how-manieth time this prompt is asked again because its reply did not
    # parse (0: the first asking); a judge that caches replies asks anew for each.
    sample: int = 0


@dataclass(frozen=True)
class Room:
    """A prompt against the judge's context window: its tokens (``estimated``: characters
    / 4, where no tokenizer is at hand), the most the judge may write after it (``new``,
    with ``writes`` saying what bounds them) and the window (``source``: where it is
    known from)."""

    tokens: int
    new: int
    window: int
    estimated: bool = False
    writes: str = "--max-new-tokens"
    source: str = ""

    @property
    def fits(self) -> bool:
        return self.tokens + self.new <= self.window


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
    #: whether asking the same prompt again can give another reply (--resample needs it)
    samples: bool = False
    #: --truncate: a prompt too long for the context window has its answers cut to fit
    #: (``judging.fit``) rather than being refused
    truncate: bool = False

    @abstractmethod
    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        """Judge a batch; one Completion per request, in order. A failed request is a
        Completion with ``error`` set, never an exception for the whole batch. On Ctrl-C,
        a backend may set ``completions`` on the KeyboardInterrupt (one entry per request,
        None for those unfinished), so that the finished ones are written."""

    #: Whether ``start`` begins the work at once, so that a runner may hand over the next
    #: window before finishing the last (``runner.judge_file``).
    overlaps = False
    #: With ``overlaps``: how many windows the runner keeps handed over at once (the one it
    #: finishes and those begun behind it; a pool of Ray actors wants two an actor).
    in_flight_windows = 2

    def start(self, requests: Sequence[Request]) -> Any:
        """Hand over a batch to be finished by ``finish``; by default nothing begins before
        ``finish`` (which calls ``complete``)."""
        return list(requests)

    def finish(self, ticket: Any) -> list[Completion]:
        """The completions of a batch handed over by ``start``, in order."""
        return self.complete(ticket)

    def wait(self, ticket: Any, seen: int) -> list[Completion | None] | None:
        """A started batch's results so far (None for those not in yet), once more than
        ``seen`` are in or the batch is over, so that a runner can write each item as soon
        as it is judged; None where the backend tells only at ``finish`` (the default)."""
        return None

    def cancel(self, ticket: Any) -> list[Completion | None]:
        """Stop a batch ``wait`` was following (Ctrl-C, a closed stdout): what it finished
        (None for the rest). Only backends that implement ``wait`` are asked."""
        return []

    def preferred_batch(self) -> int:
        """How many requests the judge likes to receive at once."""
        return 16

    def close(self) -> None:
        """Release resources (connections, GPU memory)."""

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()  # an API judge's connections, before the interpreter ends

    def usage_report(self) -> str | None:
        """One line on tokens and cost for the end of a run; None where nothing is metered."""
        return None

    def room(self, request: Request) -> Room | None:
        """How the request's prompt stands against the context window; None where the
        window is not known (the default)."""
        return None

    def refusal(self, request: Request, room: Room | None = None) -> Completion | None:
        """The error a request gets instead of being sent when its prompt and what the judge
        may write exceed the context window (``room``: the request's, if known); else None.
        Sending it would fail, or a local model would read past the positions it was
        trained on."""
        room = room or self.room(request)
        if room is None or room.fits:
            return None
        about = "~" if room.estimated else ""
        how = " (characters / 4)" if room.estimated else ""
        source = f" ({room.source})" if room.source else ""
        hint = "the question and template alone do not fit, even with the answers cut" \
            if self.truncate else "--truncate cuts the answers to fit"
        return Completion(text=None, error=(
            f"prompt too long: {about}{room.tokens:,} tokens{how} + {room.new:,} to write "
            f"({room.writes}) exceed the context window of {self.name}, {room.window:,} "
            f"tokens{source}; not judged ({hint})"))
