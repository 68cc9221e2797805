"""The cascade of Huang et al. 2024: keep the local judge's trustworthy verdicts and send the
rest to a stronger (fallback) judge, using a calibration from ``judgecli calibrate``.

Their released cascade (HuihuiChyan/UnlimitedJudge src/cascaded_eval.py) keeps the local
judge's output in both branches; here the fallback's verdict decides the escalated items.
Each record keeps both judgments: ``judgment`` is the deciding one, with ``decided_by``
("local" or "fallback") and, when escalated, the local judgment under ``local``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..calibration.files import check_fits
from ..calibration.fit import scaled
from ..errors import BudgetExhausted
from ..io.ids import records_by_item
from ..io.records import Item
from ..judging.confidence import order_average
from ..judging.indicators import indicator_value
from ..judging.runner import Judging, resolve_mode
from ..parsers import TIE, A, B

VERDICTS = (A, B, TIE)


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


class Cascade:
    """A Judging-like object: ``judge_items`` returns the records, in order."""

    def __init__(self, local: Judging, fallback: Judging, calibration: dict[str, Any],
                 path: str = "calibration.json") -> None:
        check_fits(calibration, local.judge.name, local.options.template.name, path,
                   mode=resolve_mode(local.options, local.judge))
        self.local, self.fallback, self.calibration = local, fallback, calibration
        self.judge = local.judge  # the runner sizes windows by the local judge's batches
        self.threshold = float(calibration["threshold"])
        self.stats = CascadeStats()

    def check_item(self, item: Item) -> None:
        self.local.check_item(item)
        self.fallback.check_item(item)

    def escalates(self, judgment: dict[str, Any]) -> bool:
        if judgment.get("error") is not None or judgment.get("verdict") is None:
            return True
        if self.calibration["escalate_inconsistent"] and judgment.get("consistent") is False:
            return True
        value = indicator_value(judgment.get("indicators"), self.calibration["indicator"],
                                self.calibration.get("alpha") or 1.0)
        return value is None or value < self.threshold

    def _calibrate_confidence(self, judgment: dict[str, Any]) -> None:
        temperature = self.calibration.get("temperature")
        average = order_average(judgment.get("orders"), VERDICTS)
        verdict = judgment.get("verdict")
        if not temperature or verdict not in VERDICTS or average is None:
            return
        dist = np.array([average[v] for v in VERDICTS])
        judgment["confidence_raw"] = judgment.get("confidence")
        judgment["confidence"] = float(scaled(dist, float(temperature))[VERDICTS.index(verdict)])

    def judge_items(self, items: list[Item]) -> list[dict[str, Any]]:
        records = self.local.judge_items(items)
        for record in records:
            self._calibrate_confidence(record["judgment"])
        escalate = [k for k, r in enumerate(records) if self.escalates(r["judgment"])]
        strong: dict[int, dict[str, Any]] = {}
        stopped: BudgetExhausted | None = None
        if escalate:
            try:
                done = self.fallback.judge_items([items[k] for k in escalate])
            except BudgetExhausted as stop:
                done, stopped = records_by_item(stop.records, [items[k] for k in escalate]), stop
            for k, record in zip(escalate, done):
                if record is not None:
                    strong[k] = record
        out: list[dict[str, Any]] = []
        for k, record in enumerate(records):
            if k in strong:
                judgment = strong[k]["judgment"]
                judgment["decided_by"] = "fallback"
                judgment["local"] = record["judgment"]
                out.append({**record, "judgment": judgment})
                self._count(judgment, escalated=True)
            elif k in escalate:
                continue  # not judged by the fallback (budget): left for --resume
            else:
                record["judgment"]["decided_by"] = "local"
                out.append(record)
                self._count(record["judgment"], escalated=False)
        if stopped is not None:
            stopped.records = out
            raise stopped
        return out

    def _count(self, judgment: dict[str, Any], *, escalated: bool) -> None:
        self.stats.items += 1
        if escalated:
            self.stats.escalated += 1
            usage = judgment.get("usage") or {}
            self.stats.fallback_prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.stats.fallback_completion_tokens += int(usage.get("completion_tokens", 0))

    def summary(self) -> str:
        meter = getattr(self.fallback.judge, "meter", None)
        cost = meter.spent if meter is not None and getattr(meter, "price", None) else None
        return self.stats.line(cost) + "\n" + self.promise()

    def promise(self) -> str:
        """What the local stage's share decided is worth (issue 21): the calibration's
        guarantee, or that an empirical threshold gives none."""
        kept = self.stats.items - self.stats.escalated
        decided = f"cascade: local judge decided {kept} of {self.stats.items}"
        guarantee = self.calibration.get("guarantee")
        if not guarantee:
            return (f"{decided}; its threshold is empirical (calibrate --delta gives one "
                    "with a guarantee)")
        if not guarantee.get("certified"):
            return f"{decided}; no threshold was certified, so it abstains"
        return (f"{decided}, guaranteed to agree with the labels at least "
                f"{guarantee['target']:.3f} with probability {1 - guarantee['delta']:.2f} "
                f"(Trust or Escalate; expected share {guarantee['expected_coverage']:.1%})")
