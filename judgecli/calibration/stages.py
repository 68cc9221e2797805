"""A cascade of several judges, calibrated stage by stage (issue 21 item 2).

Trust or Escalate's Cascaded Selective Evaluation (Jung, Brahman, Choi 2024), as
jaehunjung1/cascaded-selective-evaluation (commit 1b969f2) ``cascaded_evaluation/
cascaded_classifier.py`` ``CascadedClassifier.calibrate`` does it: the judges in order of
cost, each stage's threshold chosen on the labelled items that no earlier stage trusted,
with the same target and the same delta at every stage; at run time an item goes down the
stages until one trusts its verdict, and is abstained on where none does
(``apply_decision_rule``, ``evaluate_sample``). Each stage's threshold here is
:func:`~judgecli.calibration.fit.calibrate`'s (with ``delta``: the fixed-sequence testing
of :func:`~judgecli.calibration.fit.certified_threshold`).

What that promises: each stage's kept verdicts agree with the labels at least the target,
on new items reaching that stage, with probability at least 1 - delta. The original uses
one delta for every stage and does not split it; judgecli does the same and says what
follows for the whole cascade: every certified stage's promise holds at once with
probability at least 1 - m·delta (a union bound over the m stages that keep items), and
then the decided items, a mixture of the stages' kept ones, agree at least the target.
``bench/cascade.py`` measures how often the whole cascade misses on new items.

One departure: where fewer than 30 items reach a stage (no candidate threshold), the
original reuses the previous stage's threshold; here that stage certifies nothing and
passes everything on (with a delta), as a single stage abstains.

calibration.json: the first stage's calibration is the file's top level, as a single-stage
file (which stays as it is), so that code reading one stage reads the first; the later
stages are listed under ``cascade.stages``, with what the cascade as a whole predicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .files import CalibrationError, Labelled, labelled_from
from .fit import calibrate, escalate_mask

RULE = ("each stage calibrated on the labelled items the stages before it escalated, with "
        "the same target and delta (Trust or Escalate, jaehunjung1/cascaded-selective-"
        "evaluation 1b969f2 CascadedClassifier.calibrate)")


def stages_of(calibration: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage's calibration, first to last (a single-stage file: one)."""
    cascade = calibration.get("cascade") or {}
    return [calibration, *cascade.get("stages", [])]


def escalated_ids(data: Labelled, fitted: dict[str, Any]) -> list[Any]:
    """The ids of the items a fitted stage passes on."""
    values = data.values(fitted["indicator"], fitted.get("alpha") or 1.0)
    mask = escalate_mask(data, values, fitted["threshold"], fitted["escalate_inconsistent"])
    return [data.ids[k] for k in np.flatnonzero(mask)]


def _reaching(data: Labelled, ids: Sequence[Any], labels: dict[Any, str], stage: int,
              name: str) -> Labelled:
    """The rows of ``data`` (stage ``stage``'s judgments, read from ``name``) for ``ids``."""
    by_id = {r.get("id"): r for r in data.records}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise CalibrationError(
            f"{name}: stage {stage} has no judgment of {len(missing)} item(s) the stages "
            f"before it escalated, e.g. id {missing[0]!r}; judge them with it (its file "
            "needs at least those items)")
    rows = [by_id[i] for i in ids]
    for row in rows:
        if row.get("label") != labels[row.get("id")]:
            raise CalibrationError(
                f"{name}: item {row.get('id')!r} is labelled {row.get('label')!r} there and "
                f"{labels[row.get('id')]!r} in the first stage's judgments")
    return labelled_from(rows)


def calibrate_cascade(stages: Sequence[Labelled | Callable[[list[Any]], Labelled]], *,
                      target_accuracy: float, delta: float | None = None,
                      indicator: str | None = None, names: Sequence[str] | None = None,
                      ) -> dict[str, Any]:
    """Fit each stage on the items the stages before it escalated. ``stages[0]``: the
    first judge's judgments of every labelled item; ``stages[k]``: judge k+1's, of at least
    the items stage k passes on (matched by id; ``names``: their files, for errors), or a
    function judging the ids it is given with that judge (it is called only with the items
    that reach it)."""
    if len(stages) < 2:
        raise CalibrationError("a cascade has at least two stages")
    names = list(names or [f"stage {k + 1}" for k in range(len(stages))])
    data = stages[0]
    assert isinstance(data, Labelled)
    labels = {r.get("id"): r.get("label") for r in data.records}
    total = len(data.correct)
    fitted: list[dict[str, Any]] = []
    for number, stage in enumerate(stages, start=1):
        if number > 1:
            ids = escalated_ids(data, fitted[-1])
            if not ids:
                raise CalibrationError(
                    f"no labelled item reaches stage {number} ({names[number - 1]}): stage "
                    f"{number - 1} trusted them all; calibrate fewer stages")
            judged = stage if isinstance(stage, Labelled) else stage(ids)
            data = _reaching(judged, ids, labels, number, names[number - 1])
        try:
            fitted.append(calibrate(data, target_accuracy=target_accuracy, delta=delta,
                                    indicator=indicator))
        except CalibrationError as exc:
            raise CalibrationError(f"stage {number} ({names[number - 1]}): {exc}") from None
    out = dict(fitted[0])
    out["cascade"] = {"rule": RULE, "target_accuracy": target_accuracy, "delta": delta,
                      "stages": fitted[1:], **predicted(fitted, total)}
    return out


def predicted(fitted: Sequence[dict[str, Any]], total: int) -> dict[str, Any]:
    """What the stages decide of the ``total`` labelled items, and what is promised."""
    decided, agreeing, rows = 0, 0.0, []
    for number, stage in enumerate(fitted, start=1):
        share = 1.0 - stage["predicted"]["escalated_share"]
        kept = round(share * stage["n"])
        accuracy = stage["predicted"]["kept_accuracy"]
        rows.append({"stage": number, "judge": stage["judge"], "reaching": stage["n"],
                     "decided": kept, "decided_share": kept / total,
                     "kept_accuracy": accuracy})
        decided += kept
        agreeing += (accuracy or 0.0) * kept
    guarantees = [s.get("guarantee") for s in fitted]
    certified = sum(1 for g in guarantees if g and g.get("certified"))
    out: dict[str, Any] = {
        "predicted": {"stages": rows, "abstained": total - decided,
                      "abstained_share": (total - decided) / total,
                      "agreement": agreeing / decided if decided else None},
        "guarantee": None}
    if all(g is not None for g in guarantees):
        delta = guarantees[0]["delta"]
        out["guarantee"] = {
            "method": "trust-or-escalate cascade", "target": guarantees[0]["target"],
            "delta": delta, "certified_stages": certified,
            # Every certified stage's promise at once: a union bound.
            "joint_probability": max(0.0, 1.0 - certified * delta)}
    return out
