"""What every parser returns: the verdict names, :class:`Parsed`, :class:`ParseFailure`."""

from __future__ import annotations

from dataclasses import dataclass

A, B, TIE = "A", "B", "tie"
PASS, FAIL = "pass", "fail"  # binary (pass/fail) judgments of one answer


@dataclass(frozen=True)
class Parsed:
    scores: tuple[float, ...] | None = None
    verdict: str | None = None
    label5: str | None = None  # Arena-Hard's five-level verdict ("A>>B" ... "B>>A"), as shown


class ParseFailure(Exception):
    """The judge's text is not in the template's output format."""



def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line, for a judgment's ``error``."""
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[:limit] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
