"""The cascade of Huang et al. 2024 and Trust or Escalate (Jung et al. 2024): keep a
judge's trustworthy verdicts and send the rest to the next, stronger judge, using a
calibration from ``judgecli calibrate``.

Their released cascade (HuihuiChyan/UnlimitedJudge src/cascaded_eval.py) keeps the local
judge's output in both branches; here the fallback's verdict decides the escalated items.
With several fallbacks (``--fallback`` repeated) items go down the stages, as
jaehunjung1/cascaded-selective-evaluation (commit 1b969f2) ``CascadedClassifier.
evaluate_sample`` sends them, until a stage's threshold trusts the verdict. A calibration
of k stages goes with k - 1 fallbacks (every judge has a threshold; items none trusts are
abstained on, as there) or with k (the last fallback decides whatever reaches it).

Each record keeps the judgments made: ``judgment`` is the deciding one, with
``decided_by`` ("local", "fallback" or "abstained") and ``stage`` (1 for the local judge);
when escalated, the local judgment under ``local`` and those of the stages between under
``escalated``. An abstained item's judgment has no verdict and says why in ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..calibration.files import CalibrationError, check_fits
from ..calibration.fit import scaled
from ..calibration.stages import stages_of
from ..errors import BudgetExhausted
from ..io.ids import records_by_item
from ..io.records import Item
from ..judging.confidence import order_average
from ..judging.indicators import indicator_value
from ..judging.runner import Judging, resolve_mode
from ..parsers import TIE, A, B

VERDICTS = (A, B, TIE)
ABSTAINED = "abstained: no stage of the cascade trusted a verdict (Trust or Escalate)"


@dataclass
class CascadeStats:
    items: int = 0
    escalated: int = 0
    fallback_prompt_tokens: int = 0
    fallback_completion_tokens: int = 0

    def line(self, fallback_cost: float | None) -> str:
        share = self.escalated / self.items if self.items else 0.0
        line = f"cascade: {self.escalated} of {self.items} item(s) escalated ({share:.1%})"
        if fallback_cost is not None and self.escalated:
            whole = fallback_cost / self.escalated * self.items
            line += (f"; fallback cost ${fallback_cost:.4f}, about ${whole:.4f} to judge "
                     f"everything with it: ${whole - fallback_cost:.4f} saved")
        elif self.escalated:
            tokens = self.fallback_prompt_tokens + self.fallback_completion_tokens
            whole = tokens / self.escalated * self.items
            line += f"; fallback tokens {tokens:,} (about {whole:,.0f} for everything)"
        return line


@dataclass
class Stage:
    """One judge of the cascade, with its calibration (None: it decides all it gets)."""

    judging: Judging
    calibration: dict[str, Any] | None
    reached: int = 0
    decided: int = 0

    def escalates(self, judgment: dict[str, Any]) -> bool:
        if judgment.get("error") is not None or judgment.get("verdict") is None:
            return True
        fitted = self.calibration
        if fitted is None:
            return False
        if fitted["escalate_inconsistent"] and judgment.get("consistent") is False:
            return True
        value = indicator_value(judgment.get("indicators"), fitted["indicator"],
                                fitted.get("alpha") or 1.0)
        return value is None or value < float(fitted["threshold"])

    def calibrate_confidence(self, judgment: dict[str, Any]) -> None:
        temperature = (self.calibration or {}).get("temperature")
        average = order_average(judgment.get("orders"), VERDICTS)
        verdict = judgment.get("verdict")
        if not temperature or verdict not in VERDICTS or average is None:
            return
        dist = np.array([average[v] for v in VERDICTS])
        judgment["confidence_raw"] = judgment.get("confidence")
        judgment["confidence"] = float(scaled(dist, float(temperature))[VERDICTS.index(verdict)])


def check_stages(calibration: dict[str, Any], fallbacks: int, path: str) -> None:
    """A calibration of k stages goes with k - 1 or k fallbacks."""
    stages = stages_of(calibration)
    if fallbacks not in (len(stages) - 1, len(stages)):
        judges = ", ".join(str(s["judge"]) for s in stages)
        raise CalibrationError(
            f"{path} calibrates a cascade of {len(stages)} stage(s) ({judges}), and "
            f"{fallbacks} --fallback were given: give {len(stages) - 1} (the judges of "
            f"stages 2 to {len(stages)} in order; items no stage trusts are abstained on) "
            f"or {len(stages)} (the last decides whatever every calibrated stage escalates)"
            if len(stages) > 1 else
            f"{path} calibrates one judge ({judges}); give one --fallback, or calibrate a "
            "cascade with calibrate --fallback J2 --fallback J3")


class Cascade:
    """A Judging-like object: ``judge_items`` returns the records, in order."""

    def __init__(self, local: Judging, fallbacks: list[Judging], calibration: dict[str, Any],
                 path: str = "calibration.json") -> None:
        check_stages(calibration, len(fallbacks), path)
        fitted = stages_of(calibration)
        judgings = [local, *fallbacks]
        for number, (judging, stage) in enumerate(zip(judgings, fitted), start=1):
            check_fits(stage, judging.judge.name, judging.options.template.name,
                       path if number == 1 else f"{path} (stage {number})",
                       mode=resolve_mode(judging.options, judging.judge))
        self.stages = [Stage(j, fitted[k] if k < len(fitted) else None)
                       for k, j in enumerate(judgings)]
        self.local, self.calibration = local, calibration
        self.fallback = fallbacks[-1]
        self.judge = local.judge  # the runner sizes windows by the local judge's batches
        self.stats = CascadeStats()
        self.abstained = 0

    def check_item(self, item: Item) -> None:
        for stage in self.stages:
            stage.judging.check_item(item)

    def judge_items(self, items: list[Item]) -> list[dict[str, Any]]:
        first: dict[int, dict[str, Any]] = {}  # the local judge's record of each item
        history: dict[int, list[dict[str, Any]]] = {}  # the judgments that escalated
        decided: dict[int, dict[str, Any]] = {}
        pending = list(range(len(items)))
        stopped: BudgetExhausted | None = None
        for number, stage in enumerate(self.stages, start=1):
            if not pending:
                break
            asked = [items[k] for k in pending]
            if number == 1:
                records: list[Any] = stage.judging.judge_items(asked)
            else:
                try:
                    records = stage.judging.judge_items(asked)
                except BudgetExhausted as stop:
                    records, stopped = records_by_item(stop.records, asked), stop
            passed = []
            for k, record in zip(pending, records):
                if record is None:
                    continue  # not judged (budget): left for --resume
                first.setdefault(k, record)
                judgment = record["judgment"]
                stage.calibrate_confidence(judgment)
                stage.reached += 1
                if stage.escalates(judgment) and (stage.calibration is not None
                                                  or number < len(self.stages)):
                    history.setdefault(k, []).append(judgment)
                    passed.append(k)
                    continue
                stage.decided += 1
                decided[k] = self._decided(first[k], judgment, number, history.get(k, []))
            if stopped is not None:
                break
            pending = passed
        else:
            for k in pending:  # the last stage is calibrated and trusted none of these
                self.abstained += 1
                decided[k] = self._abstained(first[k], history[k])
        out = [decided[k] for k in sorted(decided)]
        for record in out:
            escalated = record["judgment"]["decided_by"] != "local"
            self._count(record["judgment"], escalated=escalated)
        if stopped is not None:
            stopped.records = out
            raise stopped
        return out

    @staticmethod
    def _decided(record: dict[str, Any], judgment: dict[str, Any], number: int,
                 before: list[dict[str, Any]]) -> dict[str, Any]:
        judgment["decided_by"] = "local" if number == 1 else "fallback"
        judgment["stage"] = number
        if before:
            judgment["local"] = before[0]
        if len(before) > 1:
            judgment["escalated"] = before[1:]
        return {**record, "judgment": judgment}

    @staticmethod
    def _abstained(record: dict[str, Any], before: list[dict[str, Any]]) -> dict[str, Any]:
        last = before[-1]
        judgment = {"judge": last.get("judge"), "template": last.get("template"),
                    "mode": last.get("mode"), "verdict": None, "error": ABSTAINED,
                    "decided_by": "abstained", "stage": None, "local": before[0]}
        if len(before) > 1:
            judgment["escalated"] = before[1:]
        return {**record, "judgment": judgment}

    def _count(self, judgment: dict[str, Any], *, escalated: bool) -> None:
        self.stats.items += 1
        if escalated:
            self.stats.escalated += 1
            usage = judgment.get("usage") or {}
            self.stats.fallback_prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.stats.fallback_completion_tokens += int(usage.get("completion_tokens", 0))

    def summary(self) -> str:
        if len(self.stages) == 2 and self.stages[1].calibration is None:
            meter = getattr(self.fallback.judge, "meter", None)
            cost = meter.spent if meter is not None and getattr(meter, "price", None) else None
            return self.stats.line(cost) + "\n" + self.promise()
        return "\n".join(stage_lines(self.stages, self.stats.items, self.abstained,
                                     self.calibration))

    def promise(self) -> str:
        """What the local stage's share decided is worth (issue 21): the calibration's
        guarantee, or that an empirical threshold gives none."""
        kept = self.stats.items - self.stats.escalated
        decided = f"cascade: local judge decided {kept} of {self.stats.items}"
        return decided + _worth(self.calibration.get("guarantee"))


def _worth(guarantee: dict[str, Any] | None, *, of: str = "share") -> str:
    if not guarantee:
        return "; its threshold is empirical (calibrate --delta gives one with a guarantee)"
    if not guarantee.get("certified"):
        return "; no threshold was certified, so it abstains"
    return (f", guaranteed to agree with the labels at least {guarantee['target']:.3f} with "
            f"probability {1 - guarantee['delta']:.2f} (Trust or Escalate; expected {of} "
            f"{guarantee['expected_coverage']:.1%})")


def stage_lines(stages: list[Stage], items: int, abstained: int,
                calibration: dict[str, Any]) -> list[str]:
    """Per stage: the share of the items it decided and what its verdicts are worth."""
    def share(count: int) -> str:
        return f"{count / items:.1%}" if items else "-"

    lines = [f"cascade: {items} item(s): " + ", ".join(
        f"stage {n} ({s.judging.judge.name}) decided {s.decided} ({share(s.decided)})"
        for n, s in enumerate(stages, start=1))
        + (f"; abstained on {abstained} ({share(abstained)})"
           if stages[-1].calibration is not None else "")]
    for number, stage in enumerate(stages, start=1):
        head = (f"cascade: stage {number} {stage.judging.judge.name} decided {stage.decided} "
                f"of the {stage.reached} it received ({share(stage.decided)} of all)")
        if stage.calibration is None:
            lines.append(head + "; it has no threshold (it decides all it receives), so no "
                                "guarantee")
        else:
            lines.append(head + _worth(stage.calibration.get("guarantee"),
                                       of="share of what it receives"))
    whole = (calibration.get("cascade") or {}).get("guarantee")
    if whole and whole["certified_stages"] > 1:
        lines.append(
            f"cascade: the certified stages' promises hold together with probability at "
            f"least {whole['joint_probability']:.2f} (a union bound over "
            f"{whole['certified_stages']} stages, each at delta {whole['delta']:g}); the "
            f"items they decide then agree at least {whole['target']:.3f}")
    return lines
