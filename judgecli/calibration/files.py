"""Calibration files: labelled judgments read into columns (:class:`Labelled`), and
calibration.json written, read and checked against the judge that would use it."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, JudgecliError
from ..io.jsonl import iter_lines
from ..judging.indicators import indicator_value

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
    cascade = data.get("cascade")
    if cascade is not None:  # a cascade of several stages: the first is the top level
        stages = cascade.get("stages") if isinstance(cascade, dict) else None
        if not isinstance(stages, list) or not stages or any(
                not isinstance(s, dict) or any(k not in s for k in needed) for s in stages):
            raise CalibrationError(f"{path}: 'cascade.stages' is not a list of stage "
                                   "calibrations written by judgecli calibrate")
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
