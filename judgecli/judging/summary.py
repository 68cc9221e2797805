"""A run's summary: what it judged, what it skipped, why it stopped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunSummary:
    judged: int = 0
    errors: int = 0
    abstained: int = 0  # items a cascade abstained on (no stage trusted a verdict)
    resumed: int = 0
    rejected: int = 0
    rejects: str | None = None  # where the rejected lines were written
    seconds: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)
    usage: Counter[str] = field(default_factory=Counter)
    output: str | None = None
    stopped: str | None = None  # why the run stopped early (--max-cost), if it did

    def line(self) -> str:
        parts = [f"judged {self.judged}"]
        if self.verdicts:
            parts.append(", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items())))
        if self.abstained:
            parts.append(f"abstained {self.abstained}")
        parts.append(f"errors {self.errors}")
        if self.resumed:
            parts.append(f"already done {self.resumed}")
        if self.rejected:
            parts.append(f"rejected {self.rejected}")
        parts.append(f"{self.seconds:.1f}s")
        if self.stopped:
            parts.append("stopped early (--max-cost)")
        return "; ".join(parts)


def final_verdict(judgment: dict[str, Any]) -> Any:
    """The verdict a record ends with: a successful review's, else the judgment's own."""
    review = judgment.get("review")
    if isinstance(review, dict) and review.get("error") is None and \
            review.get("verdict") is not None:
        return review["verdict"]
    return judgment.get("verdict")
