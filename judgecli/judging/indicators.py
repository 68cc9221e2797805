"""Per-judgment reliability indicators, recorded under ``judgment.indicators``.

Fine-tuned judges fail silently out of their training domain (Huang et al. 2024, "On the
Limitations of Fine-tuned Judge Models for LLM Evaluation"). These numbers, higher meaning
more trustworthy, let ``judgecli calibrate`` measure which one predicts correctness:

* ``verdict_prob``: the verdict's probability from the score distributions, averaged over
  the orders judged;
* ``entropy``: one minus the normalised entropy of the verdict distribution (averaged over
  the orders), 1 when the judge is certain, 0 when A, B and tie are equally likely;
* ``swap``: ``consistent`` (the two orders agree) and ``agreement``, one minus the total
  variation distance between the two orders' verdict distributions;
* ``huang``: Huang et al.'s indicator over the tokens the judge wrote (see
  backends/hf.py ``_huang_terms``), averaged over the orders; ``huang_base`` is the same from
  the judge's base model, for their calibrated form E_judge - alpha * E_base.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..backends.base import Completion
from ..parsers import TIE, A, B
from .debias import OrderResult, verdict_probability

VERDICTS = (A, B, TIE)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def indicators(results: Sequence[OrderResult], completions: Sequence[Completion],
               verdict: str | None) -> dict[str, Any] | None:
    """The indicators of one judged item (None when the judgment failed)."""
    if any(r.error is not None for r in results):
        return None
    out: dict[str, Any] = {}
    probs = [r.probs for r in results]
    if verdict is not None and all(p is not None for p in probs):
        dists = [{k: (p or {}).get(k, 0.0) for k in VERDICTS} for p in probs]
        out["verdict_prob"] = verdict_probability(list(results), verdict)  # = confidence
        average = {k: _mean([d[k] for d in dists]) for k in VERDICTS}
        entropy = -sum(p * math.log(p) for p in average.values() if p > 0)
        out["entropy"] = 1.0 - entropy / math.log(len(VERDICTS))
    if len(results) == 2:
        first, second = results
        swap: dict[str, Any] = {"consistent": first.verdict == second.verdict}
        if first.probs is not None and second.probs is not None:
            distance = 0.5 * sum(abs(first.probs.get(k, 0.0) - second.probs.get(k, 0.0))
                                 for k in VERDICTS)
            swap["agreement"] = 1.0 - distance
        out["swap"] = swap
    for key in ("huang", "huang_base"):
        values = [c.extra.get(key) for c in completions]
        if values and all(isinstance(v, (int, float)) for v in values):
            out[key] = _mean([float(v) for v in values if v is not None])
    return out or None


def huang_calibrated(huang: float, huang_base: float, alpha: float) -> float:
    """HuihuiChyan/UnlimitedJudge src/evaluate_reliability.py ``compute_calibrated_score``:
    (E_judge - alpha * E_base) / 2."""
    return (huang - huang_base * alpha) / 2


def indicator_value(indicators_: dict[str, Any] | None, name: str,
                    alpha: float = 1.0) -> float | None:
    """One indicator as a number, higher = more trustworthy (``swap``: its agreement, or
    1 / 0 for consistency where there are no probabilities; ``none``: 1 for every verdict, for
    judges that give no confidence, whose threshold keeps all their verdicts or none)."""
    if name == "none":
        return 1.0
    if not indicators_:
        return None
    if name == "swap":
        swap = indicators_.get("swap")
        if not swap:
            return None
        return swap.get("agreement", 1.0 if swap.get("consistent") else 0.0)
    if name == "huang_calibrated":
        h, b = indicators_.get("huang"), indicators_.get("huang_base")
        return None if h is None or b is None else huang_calibrated(h, b, alpha)
    value = indicators_.get(name)
    return float(value) if isinstance(value, (int, float)) else None
