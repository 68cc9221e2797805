"""Gates for pipelines: ``--fail-under agreement=0.8``, ``--fail-over position_bias=0.1``.

A gate is checked on each file's overall figures (not on its ``--by`` groups). A figure
that cannot be computed (no labels, say) fails its gate: a pipeline should not pass on a
number it never saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import JudgecliError
from .summary import KEYS

# Figures a gate can test: the scalar ones.
GATEABLE = tuple(k for k in KEYS if k not in (
    "file", "group", "kind", "errors", "confusion", "agreement_by_order", "verdicts_by_order",
    "win_rate_ci", "accuracy_at_coverage", "calibration_bins", "alpacaeval_lc_terms",
    "arenahard_labels", "arenahard_score_ci", "arenahard_baseline", "arenahard_ranking",
    "corrected"))


@dataclass(frozen=True)
class Gate:
    figure: str
    under: bool  # True: fail when the figure is below the threshold; False: above it
    threshold: float

    def describe(self) -> str:
        return f"--fail-{'under' if self.under else 'over'} {self.figure}={self.threshold:g}"

    def check(self, summary: dict[str, Any]) -> str | None:
        """None when the gate passes, else why it failed."""
        value = summary.get(self.figure)
        where = summary.get("file") or "<input>"
        if value is None:
            return f"{self.figure} is not available for {where} ({self.describe()})"
        if (value < self.threshold) if self.under else (value > self.threshold):
            sign = "<" if self.under else ">"
            return f"{self.figure} {value:.4g} {sign} {self.threshold:g} in {where}"
        return None


def parse_gates(under: Sequence[str] = (), over: Sequence[str] = ()) -> list[Gate]:
    gates = []
    for specs, is_under in ((under, True), (over, False)):
        option = "--fail-under" if is_under else "--fail-over"
        for spec in specs:
            name, sep, raw = spec.partition("=")
            name = name.strip()
            if not sep or not name:
                raise JudgecliError(f"{option} expects FIGURE=VALUE, got '{spec}'")
            if name not in GATEABLE:
                raise JudgecliError(f"{option}: unknown figure '{name}'; one of "
                                    + ", ".join(GATEABLE))
            try:
                threshold = float(raw)
            except ValueError:
                raise JudgecliError(f"{option} {name}: '{raw}' is not a number") from None
            if not math.isfinite(threshold):
                raise JudgecliError(f"{option} {name}: '{raw}' is not a finite number")
            gates.append(Gate(name, is_under, threshold))
    return gates


def check_gates(summaries: Sequence[dict[str, Any]], gates: Sequence[Gate]) -> list[str]:
    """Record each gate's result in its summary (``gates``); return the failures."""
    failures = []
    for summary in summaries:
        results = []
        for gate in gates:
            reason = gate.check(summary)
            results.append({"figure": gate.figure, "fail_under" if gate.under else "fail_over":
                            gate.threshold, "value": summary.get(gate.figure),
                            "passed": reason is None})
            if reason:
                failures.append(reason)
        summary["gates"] = results
    return failures
