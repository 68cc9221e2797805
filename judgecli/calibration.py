"""``judgecli calibrate``: which indicator predicts a judge's correctness, a calibrated
confidence, and the threshold below which a cascade escalates to a stronger judge.

From labelled judgments (gold labels from people, or from a teacher judge such as GPT-4):

* for each indicator (indicators.py): AUROC for correctness, accuracy at coverage and, for
  the probability-valued ones, expected calibration error (report/reliability.py); the same
  for the recorded ``judgment.confidence``, equal to ``verdict_prob`` in files judged now,
  shown so that files from earlier versions (whose strict-rule confidence was another
  quantity) can be compared;
* temperature scaling (Guo et al. 2017): one T, fitted by maximum likelihood on the gold
  labels, applied to the verdict distribution averaged over the orders, so that
  ``confidence`` becomes calibrated;
* the escalation policy, as in Huang et al. 2024's cascade: keep the local judge's verdicts
  whose indicator is at least ``threshold`` (optionally only if both orders agree) and send
  the rest to the fallback judge. ``--target-accuracy``: the fewest escalations for which
  the kept verdicts are that accurate (so the cascade is, if the fallback is); ``--budget``:
  escalate that share of the items, the least trustworthy first.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends import Judge, load_judge
from .errors import InputError, JudgecliError
from .indicators import indicator_value
from .jsonl import iter_lines
from .runner import JudgeOptions, RunSummary, judge_file
from .templates import Template, load_template

INDICATORS = ("verdict_prob", "entropy", "swap", "huang", "huang_calibrated")
PROBABILITIES = ("verdict_prob", "entropy", "swap")  # valued in [0, 1]: ECE applies
ALPHAS = (0.5, 1.0)  # Huang et al.'s calibration factors (evaluate_reliability.py tries 0, .5, 1)
VERDICTS = ("A", "B", "tie")
FORMAT = 1


class CalibrationError(JudgecliError):
    """A calibration that cannot be fitted, read, or used with this judge."""


@dataclass
class Labelled:
    """Columns of labelled pairwise judgments."""

    ids: list[Any]
    correct: np.ndarray  # bool
    failed: np.ndarray  # bool: the judgment failed (always escalated)
    consistent: np.ndarray  # bool (True where only one order was judged)
    dist: np.ndarray  # (n, 3) verdict distribution averaged over orders; nan where unknown
    confidence: np.ndarray  # judgment.confidence as recorded; nan where absent
    gold: np.ndarray  # index into VERDICTS
    verdict: np.ndarray  # index into VERDICTS, -1 where failed
    records: list[dict[str, Any]]
    judge: str
    template: str
    mode: str | None = None  # score or explain: indicators differ between the two

    def values(self, name: str, alpha: float = 1.0) -> np.ndarray:
        """An indicator per item; nan where missing (such items count as least trustworthy)."""
        out = [indicator_value(r["judgment"].get("indicators"), name, alpha) for r in self.records]
        return np.array([np.nan if v is None else v for v in out], dtype=float)


def read_labelled(path: str) -> Labelled:
    """Pairwise judgment records with a gold ``label``; others are refused by line."""
    rows: list[dict[str, Any]] = []
    judges, templates = set(), set()
    for line, record in iter_lines(path):
        judgment = record.get("judgment")
        if not isinstance(judgment, dict):
            raise InputError("missing: not a judgment record (run judgecli judge first)",
                             file=path, line=line, field="judgment")
        if record.get("label") not in VERDICTS:
            raise InputError(f"expected \"A\", \"B\" or \"tie\", got {record.get('label')!r}",
                             file=path, line=line, field="label")
        judges.add(judgment.get("judge"))
        templates.add(judgment.get("template"))
        rows.append(record)
    if not rows:
        raise CalibrationError(f"{path}: no labelled judgments")
    if len(judges) > 1 or len(templates) > 1:
        raise CalibrationError(f"{path}: judgments of several judges or templates; calibrate "
                               "one judge and template at a time")
    return labelled_from(rows)


def labelled_from(rows: Sequence[dict[str, Any]]) -> Labelled:
    gold = np.array([VERDICTS.index(r["label"]) for r in rows])
    verdicts = [r["judgment"].get("verdict") for r in rows]
    verdict = np.array([VERDICTS.index(v) if v in VERDICTS else -1 for v in verdicts])
    failed = verdict < 0
    dist = np.full((len(rows), 3), np.nan)
    for k, r in enumerate(rows):
        probs = [o.get("probs") for o in r["judgment"].get("orders", [])]
        if probs and all(isinstance(p, dict) for p in probs):
            dist[k] = [sum(p.get(v, 0.0) for p in probs) / len(probs) for v in VERDICTS]
    consistent = np.array([r["judgment"].get("consistent") is not False for r in rows])
    confidence = np.array([_probability(r["judgment"].get("confidence")) for r in rows])
    return Labelled(ids=[r.get("id") for r in rows], correct=(verdict == gold) & ~failed,
                    failed=failed, consistent=consistent, dist=dist, confidence=confidence,
                    gold=gold,
                    verdict=verdict, records=list(rows),
                    judge=str(rows[0]["judgment"].get("judge")),
                    template=str(rows[0]["judgment"].get("template")),
                    mode=rows[0]["judgment"].get("mode"))


def _probability(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    return float(value) if ok else math.nan


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
              fallback: Labelled | None = None) -> dict[str, Any]:
    """Fit and choose; the returned dict is what calibration.json holds."""
    from .report.reliability import reliability_figures

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
    if not candidates:
        raise CalibrationError("the judgments carry no indicators (judge in score mode, or "
                               "with an API that returns logprobs, or use swap)")
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
    if budget is not None:
        best = max(options, key=lambda o: (not o[2].get("over_budget", False),
                                           o[2]["kept_accuracy"] or 0.0))
    else:
        best = min(options, key=lambda o: o[2]["escalated_share"])
    escalate_inconsistent, curve, point = best
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


def load_calibration(path: str) -> dict[str, Any]:
    try:
        data = json.loads(open(path, encoding="utf-8").read())
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such calibration file") from None
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: not a calibration file ({exc})") from None
    needed = ("format", "judge", "template", "indicator", "threshold", "escalate_inconsistent")
    if not isinstance(data, dict) or any(k not in data for k in needed):
        raise CalibrationError(f"{path}: not a calibration file written by judgecli calibrate")
    if data["format"] != FORMAT:
        raise CalibrationError(f"{path}: calibration format {data['format']}, expected {FORMAT}")
    return data


def _same_judge(a: str, b: str) -> bool:
    # A local judge may be named by different paths to the same folder.
    if os.path.exists(a) and os.path.exists(b):
        return os.path.realpath(a) == os.path.realpath(b)
    return a == b


def check_fits(calibration: dict[str, Any], judge: str, template: str, path: str,
               mode: str | None = None) -> None:
    """A calibration is only valid for the judge, template and mode it was fitted on: score
    and explain mode give different indicators (score mode reads the score line's
    distributions; explain mode has no such distributions on a local judge), so a threshold
    fitted on one escalates everything, or nothing, on the other."""
    if not _same_judge(str(calibration["judge"]), judge) or calibration["template"] != template:
        raise CalibrationError(
            f"{path} was fitted for judge '{calibration['judge']}' with template "
            f"'{calibration['template']}', not '{judge}' with '{template}'; calibrate again")
    fitted = calibration.get("mode")
    if fitted and mode and fitted != mode:
        raise CalibrationError(
            f"{path} was fitted on {fitted}-mode judgments and this run judges in {mode} "
            f"mode, whose indicators differ (a threshold on '{calibration['indicator']}' "
            f"would escalate by accident); judge with --mode {fitted}, or calibrate in "
            f"{mode} mode")


def dump(calibration: dict[str, Any]) -> str:
    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return "inf" if value > 0 else "-inf"
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(calibration), indent=2)


def judge_labelled(labelled: str, judge: str | Judge, template: str | Template | None = None,
                   *, options: JudgeOptions | None = None, judging: Any = None,
                   mapping: dict[str, str] | None = None, skip_invalid: bool = False,
                   base_model: str | None = None, batch_size: int | None = None,
                   output: str | None = None, progress: bool = False,
                   ) -> tuple[Labelled | None, RunSummary]:
    """Judge labelled items with ``judge_file`` (for ``calibrate LABELLED``) into ``output``
    if given: what :func:`read_labelled` reads from the judgments (None where the run
    stopped early, at ``--max-cost``), and the run's summary. ``judge``: a spec, loaded here
    and closed, or a loaded Judge the caller closes; ``options``: mode, swap, combine and
    token limit (default: ``template``'s); ``judging``: what judges instead (the CLI's)."""
    if options is None:
        if template is None:
            raise CalibrationError("judge_labelled needs a template or options")
        options = JudgeOptions(template=load_template(template)
                               if isinstance(template, str) else template)
    with tempfile.TemporaryDirectory(prefix="judgecli-calibrate-") as tmp:
        judged = output or os.path.join(tmp, "judged.jsonl")
        loaded = load_judge(judge, batch_size=batch_size,
                            **({"base_model": base_model} if base_model else {})) \
            if isinstance(judge, str) else judge
        try:
            summary = judge_file(labelled, judged, loaded, options, mapping=mapping, force=True,
                                 skip_invalid=skip_invalid, progress=progress, judging=judging)
        finally:
            if isinstance(judge, str):
                loaded.close()
        if summary.stopped:
            return None, summary
        return read_labelled(judged), summary
