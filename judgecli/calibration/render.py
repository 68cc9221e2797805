"""The terminal table of ``judgecli calibrate``."""

from __future__ import annotations

import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

SHOWN_COVERAGE = (0.2, 0.5, 0.8, 1.0)


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _threshold(value: Any) -> str:
    """A threshold as read: 4 significant digits (calibration.json keeps every digit)."""
    return "-" if value is None else f"{value:.4g}"


def _guarantee(calibration: dict[str, Any]) -> str:
    """What the threshold promises on new items (issue 21: say it, either way)."""
    guarantee = calibration.get("guarantee")
    if guarantee is None:
        return ("empirical threshold: it meets the goal on these items only, with no "
                "guarantee on new ones (about half of new samples fall short of a target); "
                "--delta D chooses one with a guarantee")
    if not guarantee["certified"]:
        return (f"Trust or Escalate (delta {guarantee['delta']:g}): no threshold is "
                f"certified for target {guarantee['target']:.3f} on these "
                f"{calibration['n']} items, so every item is escalated (abstain); lower the "
                "target or give more labelled items")
    return (f"Trust or Escalate (delta {guarantee['delta']:g}): on new items the kept "
            f"verdicts agree with the labels at least the target {guarantee['target']:.3f} "
            f"with probability at least {1 - guarantee['delta']:.2f} (fixed-sequence testing; "
            f"Clopper-Pearson lower bound {guarantee['guaranteed_agreement']:.3f} on the "
            f"{guarantee['kept']} items kept here); expected share kept "
            f"{guarantee['expected_coverage']:.1%}")


def render(calibration: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    mode = f" ({calibration['mode']} mode)" if calibration.get("mode") else ""
    console.print(f"Indicators of judge {calibration['judge']}, template "
                  f"{calibration['template']}{mode}, on {calibration['n']} labelled items: "
                  f"accuracy {calibration['accuracy']:.3f}", highlight=False)
    table = Table(box=box.SIMPLE, pad_edge=False)
    table.add_column("indicator")
    for name in ("AUROC", "ECE", *(f"acc@{c:.0%}" for c in SHOWN_COVERAGE)):
        table.add_column(name, justify="right")
    for name, fig in calibration["indicators"].items():
        by_coverage = {round(p["coverage"], 2): p["accuracy"]
                       for p in fig["accuracy_at_coverage"] or []}
        table.add_row(name, _f(fig["auroc"]), _f(fig["ece"]),
                      *(_f(by_coverage.get(c)) for c in SHOWN_COVERAGE))
    console.print(table)
    if calibration.get("confidence"):
        fig = calibration["confidence"]
        console.print(f"recorded confidence ({fig['n']} items): AUROC {_f(fig['auroc'])}, "
                      f"ECE {_f(fig['ece'])}")
    predicted = calibration["predicted"]
    goal = (f"target accuracy {calibration['target_accuracy']:.3f}"
            if calibration["target_accuracy"] is not None
            else f"budget {calibration['budget']:.0%} escalated")
    console.print(
        f"chosen: {calibration['indicator']}"
        + (f" (alpha {calibration['alpha']:g})" if calibration.get("alpha") else "")
        + f", escalate below {_threshold(calibration['threshold'])}"
        + (" and swap-inconsistent items" if calibration["escalate_inconsistent"] else "")
        + f" for {goal}: {predicted['escalated_share']:.1%} escalated, kept accuracy "
        + f"{_f(predicted['kept_accuracy'])}"
        + (f", cascade accuracy {predicted['cascade_accuracy']:.3f}"
           if predicted.get("cascade_accuracy") is not None else ""))
    console.print(_guarantee(calibration), highlight=False)
    if calibration.get("temperature") is not None:
        console.print(f"temperature {calibration['temperature']:.3f}: ECE of confidence "
                      f"{_f(calibration['indicators'].get('verdict_prob', {}).get('ece'))} -> "
                      f"{_f(calibration.get('ece_calibrated'))}")
    if calibration.get("cascade"):
        _cascade(calibration, console)
    if calibration.get("simulation"):
        sim = Table(title="Cascade simulated from recorded judgments", title_justify="left",
                    box=box.SIMPLE, pad_edge=False)
        for name in ("escalated", "accuracy", "policy"):
            sim.add_column(name, justify="left" if name == "policy" else "right")
        rows = calibration["simulation"]
        step = max(1, len(rows) // 12)
        for row in rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else []):
            sim.add_row(f"{row['escalated_share']:.1%}", f"{row['accuracy']:.3f}",
                        row.get("policy", calibration["indicator"]))
        console.print(sim)


def _cascade(calibration: dict[str, Any], console: Console) -> None:
    """A cascade's stages: who decides how much, and what each stage promises."""
    cascade = calibration["cascade"]
    stages = [calibration, *cascade["stages"]]
    predicted = cascade["predicted"]
    console.print(f"Cascade of {len(stages)} stages, each calibrated on the labelled items "
                  "the stages before it escalated (same target and delta at every stage, as "
                  "Trust or Escalate):", highlight=False)
    for stage, row in zip(stages, predicted["stages"], strict=True):
        mode = f", {stage['mode']} mode" if stage.get("mode") else ""
        console.print(
            f"  stage {row['stage']} {stage['judge']} ({stage['template']}{mode}): "
            f"{row['reaching']} item(s) reach it; {stage['indicator']}, "
            + (f"escalate below {_threshold(stage['threshold'])}"
               if float(stage["threshold"]) != float("inf") else "every item escalated")
            + (" and swap-inconsistent items" if stage["escalate_inconsistent"] else "")
            + f"; decides {row['decided']} ({row['decided_share']:.1%} of all), kept "
            f"accuracy {_f(row['kept_accuracy'])}", highlight=False)
        console.print("    " + _guarantee(stage), highlight=False)
    console.print(f"  abstained on {predicted['abstained']} ({predicted['abstained_share']:.1%})"
                  f"; the decided items agree {_f(predicted['agreement'])} with these labels",
                  highlight=False)
    whole = cascade.get("guarantee")
    if whole and whole["certified_stages"] > 1:
        console.print(f"  each certified stage's promise holds with probability at least "
                      f"{1 - whole['delta']:.2f}; all {whole['certified_stages']} together "
                      f"with at least {whole['joint_probability']:.2f} (a union bound), and "
                      f"then the decided items agree at least {whole['target']:.3f}",
                      highlight=False)
