"""Fitting a calibration: each indicator's AUROC, ECE and accuracy at coverage, a
temperature for ``confidence``, and the escalation threshold of the cascade."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .files import FORMAT, CalibrationError, Labelled

INDICATORS = ("verdict_prob", "entropy", "swap", "huang", "huang_calibrated")
NO_INDICATOR = "none"  # every verdict trusted alike: the threshold keeps all or none
PROBABILITIES = ("verdict_prob", "entropy", "swap")  # valued in [0, 1]: ECE applies
ALPHAS = (0.5, 1.0)  # Huang et al.'s calibration factors (evaluate_reliability.py tries 0, .5, 1)


def fit_temperature(dist: np.ndarray, gold: np.ndarray) -> float | None:
    """The T minimising the negative log-likelihood of the gold labels under
    softmax(log p / T) (Guo et al. 2017, "On Calibration of Modern Neural Networks")."""
    from scipy.optimize import minimize_scalar

    known = ~np.isnan(dist).any(axis=1)
    if known.sum() < 2:
        return None
    logp = np.log(np.clip(dist[known], 1e-12, 1.0))
    target = gold[known]

    def nll(log_t: float) -> float:
        z = logp / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(-(z[np.arange(len(z)), target] - log_norm).mean())

    best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(math.exp(best.x))


def scaled(dist: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(dist, 1e-12, 1.0)) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _trust(values: np.ndarray) -> np.ndarray:
    # Missing indicator values are the least trustworthy of all.
    return np.where(np.isnan(values), -np.inf, values)


def policy_curve(data: Labelled, values: np.ndarray, *, escalate_inconsistent: bool,
                 ) -> list[dict[str, Any]]:
    """For each possible threshold (most trusted first): share escalated, kept accuracy."""
    n = len(data.correct)
    trust = _trust(values)
    forced = data.failed | (~data.consistent if escalate_inconsistent else False)
    candidates = np.where(forced, -np.inf, trust)
    order = np.argsort(-candidates, kind="stable")
    keepable = int(np.count_nonzero(~np.isneginf(candidates)))
    hits = np.cumsum(data.correct[order])
    curve = [{"threshold": math.inf, "kept": 0, "escalated_share": 1.0, "kept_accuracy": None}]
    for k in range(1, keepable + 1):
        if k < keepable and candidates[order[k]] == candidates[order[k - 1]]:
            continue  # a threshold keeps all items of equal value or none
        curve.append({"threshold": float(candidates[order[k - 1]]), "kept": k,
                      "escalated_share": 1.0 - k / n, "kept_accuracy": float(hits[k - 1] / k)})
    return curve


def choose(curve: list[dict[str, Any]], *, target_accuracy: float | None,
           budget: float | None) -> dict[str, Any]:
    """The point of the curve that meets the target with the fewest escalations, or that
    spends as much of the budget as it may without going over it (a budget is a maximum:
    the least trusted items go first, as many as it allows). Where even the items that must
    go (failed judgments) exceed the budget, the point with the fewest escalations, marked
    ``over_budget``."""
    if budget is not None:
        fits = [p for p in curve if p["escalated_share"] <= budget + 1e-12]
        if not fits:
            return dict(min(curve, key=lambda p: p["escalated_share"]), over_budget=True)
        return max(fits, key=lambda p: p["escalated_share"])
    assert target_accuracy is not None
    fits = [p for p in curve if p["kept_accuracy"] is None
            or p["kept_accuracy"] >= target_accuracy - 1e-12]
    return min(fits, key=lambda p: p["escalated_share"])


def calibrate(data: Labelled, *, target_accuracy: float | None = None,
              budget: float | None = None, indicator: str | None = None,
              fallback: Labelled | None = None, delta: float | None = None) -> dict[str, Any]:
    """Fit and choose; the returned dict is what calibration.json holds. ``delta``: choose
    the threshold with Trust or Escalate's guarantee (:func:`certified_threshold`) instead
    of the empirical one, which meets the target on these items only."""
    from ..report.reliability import reliability_figures

    if (target_accuracy is None) == (budget is None):
        raise CalibrationError("give one of --target-accuracy or --budget")
    for name, value in (("--target-accuracy", target_accuracy), ("--budget", budget)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise CalibrationError(f"{name} must be between 0 and 1")
    report: dict[str, Any] = {}
    candidates: list[tuple[str, float]] = []
    for name in INDICATORS:
        for alpha in (ALPHAS if name == "huang_calibrated" else (1.0,)):
            values = data.values(name, alpha)
            if np.isnan(values).all():
                continue
            key = name if name != "huang_calibrated" else f"{name}@{alpha:g}"
            known = ~np.isnan(values)
            figures = reliability_figures(data.correct[known], values[known])
            report[key] = {"n": int(known.sum()), "auroc": figures["auroc"],
                           "ece": figures["ece"] if name in PROBABILITIES else None,
                           "accuracy_at_coverage": figures["accuracy_at_coverage"]}
            candidates.append((name, alpha))
    if indicator == NO_INDICATOR:
        # A judge that gives no confidence (verdicts only, one order): every verdict is as
        # trusted as any other, so the threshold keeps all of them (but failures) or none.
        report[NO_INDICATOR] = {"n": len(data.correct), "auroc": None, "ece": None,
                                "accuracy_at_coverage": None}
        candidates = [(NO_INDICATOR, 1.0)]
    elif not candidates:
        raise CalibrationError("the judgments carry no indicators (judge in score mode, or "
                               "with an API that returns logprobs, or use swap; --indicator "
                               "none trusts all of a judge's verdicts or none)")
    if indicator is not None:
        chosen = [(n, a) for n, a in candidates if n == indicator]
        if not chosen:
            raise CalibrationError(f"indicator '{indicator}' is not in these judgments; "
                                   f"available: {', '.join(sorted(report))}")
        # Of several alphas, the best by AUROC.
    else:
        chosen = candidates
    name, alpha = max(chosen, key=lambda c: report[_key(*c)]["auroc"] or 0.0)
    values = data.values(name, alpha)
    options = []
    for escalate_inconsistent in (False, True):
        curve = policy_curve(data, values, escalate_inconsistent=escalate_inconsistent)
        point = choose(curve, target_accuracy=target_accuracy, budget=budget)
        options.append((escalate_inconsistent, curve, point))
    guarantee = None
    if delta is not None:
        if target_accuracy is None or not 0.0 < delta < 1.0:
            raise CalibrationError("--delta goes with --target-accuracy, and is between 0 "
                                   "and 1")
        options = [_certified(data, values, name, curve, inconsistent, target_accuracy,
                              delta) for inconsistent, curve, _ in options]
    if budget is not None:
        best = max(options, key=lambda o: (not o[2].get("over_budget", False),
                                           o[2]["kept_accuracy"] or 0.0))
    else:
        best = min(options, key=lambda o: o[2]["escalated_share"])
    escalate_inconsistent, curve, point = best
    guarantee = point.get("guarantee")
    temperature = fit_temperature(data.dist, data.gold)
    out: dict[str, Any] = {
        "format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "judge": data.judge, "template": data.template, "mode": data.mode,
        "n": len(data.correct),
        "accuracy": float(data.correct.mean()),
        "indicator": name, "alpha": alpha if name == "huang_calibrated" else None,
        "threshold": point["threshold"], "escalate_inconsistent": escalate_inconsistent,
        "target_accuracy": target_accuracy, "budget": budget,
        "predicted": {"escalated_share": point["escalated_share"],
                      "kept_accuracy": point["kept_accuracy"]},
        "temperature": temperature, "indicators": report, "curve": curve,
        # How the threshold was chosen: with Trust or Escalate's guarantee, or empirically
        # (it meets the target on these items; on new ones about half the time).
        "delta": delta, "guarantee": guarantee,
    }
    known = ~np.isnan(data.confidence) & ~data.failed
    if known.any():
        # The field users read, reported as is: equal to verdict_prob for files judged now.
        figures = reliability_figures(data.correct[known], data.confidence[known])
        out["confidence"] = {"n": int(known.sum()), "auroc": figures["auroc"],
                             "ece": figures["ece"]}
    if temperature is not None:
        known = ~np.isnan(data.dist).any(axis=1) & ~data.failed
        conf = scaled(data.dist[known], temperature)[np.arange(known.sum()),
                                                     data.verdict[known]]
        out["ece_calibrated"] = reliability_figures(data.correct[known], conf)["ece"]
    if fallback is not None:
        out["simulation"] = simulate(data, fallback, values, escalate_inconsistent)
        out["predicted"]["cascade_accuracy"] = _cascade_accuracy(
            data, fallback, values, point["threshold"], escalate_inconsistent)
    return out


def _certified(data: Labelled, values: np.ndarray, name: str, curve: list[dict[str, Any]],
               escalate_inconsistent: bool, target: float, delta: float,
               ) -> tuple[bool, list[dict[str, Any]], dict[str, Any]]:
    """An option of :func:`calibrate` with its threshold certified: (escalate_inconsistent,
    curve, point) as ``choose`` gives, the point carrying its ``guarantee``."""
    forced = data.failed | (~data.consistent if escalate_inconsistent else False)
    trust = np.where(forced, -np.inf, _trust(values))
    found = certified_threshold(trust, data.correct, target=target, delta=delta,
                                probability=name in PROBABILITIES)
    kept = trust >= found["threshold"]
    n = len(trust)
    point = {"threshold": found["threshold"], "kept": int(kept.sum()),
             "escalated_share": 1.0 - float(kept.sum()) / n,
             "kept_accuracy": float(data.correct[kept].mean()) if kept.any() else None}
    found["expected_coverage"] = float(kept.sum()) / n
    found["guaranteed_agreement"] = None if found["risk_bound"] is None \
        else 1.0 - found["risk_bound"]
    return escalate_inconsistent, curve, {**point, "guarantee": found}


def _key(name: str, alpha: float) -> str:
    return name if name != "huang_calibrated" else f"{name}@{alpha:g}"


def escalate_mask(data: Labelled, values: np.ndarray, threshold: float,
                  escalate_inconsistent: bool) -> np.ndarray:
    trust = _trust(values)
    mask = data.failed | (trust < threshold)
    if escalate_inconsistent:
        mask |= ~data.consistent
    return mask


def _aligned(data: Labelled, fallback: Labelled) -> np.ndarray:
    by_id = {i: k for k, i in enumerate(fallback.ids)}
    missing = [i for i in data.ids if i not in by_id]
    if missing:
        raise CalibrationError(f"{len(missing)} id(s) of the judgments are not in the fallback "
                               f"judgments, e.g. {missing[:3]}")
    return fallback.correct[[by_id[i] for i in data.ids]]


def _cascade_accuracy(data: Labelled, fallback: Labelled, values: np.ndarray, threshold: float,
                      escalate_inconsistent: bool) -> float:
    strong = _aligned(data, fallback)
    mask = escalate_mask(data, values, threshold, escalate_inconsistent)
    return float(np.where(mask, strong, data.correct).mean())


def simulate(data: Labelled, fallback: Labelled, values: np.ndarray,
             escalate_inconsistent: bool = False) -> list[dict[str, Any]]:
    """Accuracy of the cascade against the share escalated, from recorded judgments only."""
    strong = _aligned(data, fallback)
    rows = []
    for point in policy_curve(data, values, escalate_inconsistent=escalate_inconsistent):
        mask = escalate_mask(data, values, point["threshold"], escalate_inconsistent)
        rows.append({"escalated_share": float(mask.mean()),
                     "accuracy": float(np.where(mask, strong, data.correct).mean())})
    inconsistent = data.failed | ~data.consistent
    rows.append({"policy": "escalate swap-inconsistent only",
                 "escalated_share": float(inconsistent.mean()),
                 "accuracy": float(np.where(inconsistent, strong, data.correct).mean())})
    return rows


# -- Trust or Escalate ------------------------------------------------------------------------
MIN_KEPT = 30  # the fewest kept items a candidate threshold may leave (as the original)
GRID = 5000  # candidate thresholds, evenly spaced over the indicator's range


def clopper_pearson_upper(errors: int, n: int, delta: float) -> float:
    """The one-sided Clopper-Pearson upper bound on an error rate at level ``delta``: the r
    with P(Binomial(n, r) <= errors) = delta (1 where every item is wrong)."""
    from scipy.stats import beta

    return 1.0 if errors >= n else float(beta.ppf(1.0 - delta, errors + 1, n - errors))


def certified_threshold(trust: np.ndarray, correct: np.ndarray, *, target: float,
                        delta: float, probability: bool) -> dict[str, Any]:
    """The threshold Trust or Escalate (Jung, Brahman, Choi 2024) certifies: items whose
    indicator is at least it are kept, and P(their agreement < ``target``) <= ``delta``.

    As jaehunjung1/cascaded-selective-evaluation (commit 1b969f2) cascaded_evaluation/util.py
    ``SelectiveClassificationUtil`` sets it up: candidates on a grid of 5,000 over [0, 1]
    (here over the indicator's range where it is no probability) that keep at least 30
    items, each one's risk bounded by Clopper-Pearson at level delta (the root of
    ``binom.cdf(errors, n, r) = delta`` there, its closed form here). The choice is the
    paper's fixed-sequence testing: from the most confident candidate down, each certified
    while its bound is at most 1 - target; the threshold is the last certified one. Two
    departures from ``lambda_hat``, both where it returns a threshold that was never
    certified: it tests the value one step of 1 / (number of candidates) below each
    candidate, not the candidate, and that step is not the grid's (1 / 4,999), so with few
    distinct indicator values it can step past the last certified candidate and return one
    below it (on LLMBar's agree/disagree indicator it kept every item, 42% of splits then
    missing a 0.75 target at delta 0.1); and where even the highest candidate fails it
    returns that candidate, where here every item is escalated (abstain)."""
    alpha = 1.0 - target
    known = ~np.isneginf(trust)
    low, high = (0.0, 1.0) if probability else (float(trust[known].min()),
                                                 float(trust[known].max()))
    values = np.sort(trust[known])
    wrong = ~correct[known][np.argsort(trust[known], kind="stable")]
    wrong_above = np.concatenate([np.cumsum(wrong[::-1])[::-1], [0]])  # errors among >= i

    def kept(lam: float) -> tuple[int, int]:
        i = int(np.searchsorted(values, lam, side="left"))
        return len(values) - i, int(wrong_above[i])

    bounds: dict[int, float] = {}  # by the number kept: candidates share few of them

    def bound(lam: float) -> float:
        n, errors = kept(lam)
        if n not in bounds:
            bounds[n] = clopper_pearson_upper(errors, n, delta) if n else 1.0
        return bounds[n]

    grid = np.linspace(low, high, GRID)
    lambdas = [float(lam) for lam in grid if kept(float(lam))[0] >= MIN_KEPT]
    out = {"method": "trust-or-escalate", "target": target, "delta": delta}
    if not lambdas or bound(lambdas[-1]) > alpha:
        return {**out, "threshold": math.inf, "certified": False, "kept": 0,
                "risk_bound": None}
    chosen = lambdas[-1]
    for lam in reversed(lambdas):
        if bound(lam) > alpha:
            break
        chosen = lam
    n, errors = kept(chosen)
    return {**out, "threshold": chosen, "certified": True, "kept": n,
            "risk_bound": bound(chosen)}
