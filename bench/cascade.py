"""Does a cascade of several judges hold its target on new items? Each stage's threshold
chosen empirically (`calibrate --judgments J1 --judgments J2 --target-accuracy A`) against
Trust or Escalate's (`... --delta D`), over many random calibration/test splits of real
labelled judgments judgecli did not tune on.

    python bench/cascade.py [--splits 1000] [--delta 0.1] [--targets 0.62 0.64 0.66 0.68]

Data: PandaLM's test set (WeOpenML/PandaLM, in ../shared/data/pandalm), 999 pairwise items
with the majority of three people's labels (ties included), judged by two judges whose
verdicts it publishes: PandaLM-7B, then gpt-3.5-turbo, the cascade's stages in order of
cost, converted as `judgecli convert pandalm` converts them. Neither file gives a
probability or a second order, so each stage's indicator is `none` (every verdict trusted
alike): a stage keeps all of the verdicts that reach it or none of them (gpt-3.5-turbo's
unparseable replies are always passed on). A split calibrates the cascade on a random half
(stage 2 on the calibration items stage 1 passed on) and applies it to the other half.

Printed per target and rule: the share of splits that *miss*, i.e. where the decided
verdicts agree with the labels less than the target: on the test half (its own sampling
noise included: about 500 items, a standard error of about 0.02), and in the population
(the whole file, from which the calibration half was drawn: what the guarantee bounds);
then per stage in the population (each stage's promise is about the items reaching it);
and the mean share of test items decided (coverage), with each stage's part. The promise
with --delta: each stage misses with probability at most delta; the whole cascade at most
(stages certified) x delta by a union bound.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PANDALM = ROOT.parent / "shared" / "data" / "pandalm"
STAGES = ("pandalm-7b-testset-v1.json", "gpt-3.5-turbo-testset-v1.json")


def records() -> list[list[dict[str, Any]]]:
    """Each stage's judgment records, in the same item order."""
    from judgecli.report.convert import pandalm

    return [list(pandalm(str(PANDALM / "testset-v1.json"), str(PANDALM / name)))
            for name in STAGES]


def decided_by(stages: list[list[dict[str, Any]]], calibration: dict[str, Any],
               ) -> tuple[np.ndarray, np.ndarray]:
    """(the stage deciding each item, 0 for none; whether its verdict agrees)."""
    from judgecli.calibration import escalate_mask, labelled_from
    from judgecli.calibration.stages import stages_of

    n = len(stages[0])
    stage_of = np.zeros(n, dtype=int)
    right = np.zeros(n, dtype=bool)
    pending = np.ones(n, dtype=bool)
    for number, (rows, fitted) in enumerate(zip(stages, stages_of(calibration)), start=1):
        data = labelled_from(rows)
        values = data.values(fitted["indicator"], fitted.get("alpha") or 1.0)
        keep = pending & ~escalate_mask(data, values, float(fitted["threshold"]),
                                        fitted["escalate_inconsistent"])
        stage_of[keep], right[keep] = number, data.correct[keep]
        pending &= ~keep
    return stage_of, right


def misses(stage_of: np.ndarray, right: np.ndarray, target: float, stages: int,
           ) -> tuple[bool, list[bool]]:
    """Whether the decided verdicts agree less than the target: all, and per stage."""
    def short(mask: np.ndarray) -> bool:
        return bool(mask.any() and right[mask].mean() < target - 1e-12)

    return short(stage_of > 0), [short(stage_of == k) for k in range(1, stages + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--targets", type=float, nargs="+",
                        default=[0.62, 0.64, 0.66, 0.68])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not PANDALM.is_dir():
        sys.exit(f"{PANDALM} is not here (see the README, Development)")

    from judgecli.calibration import labelled_from
    from judgecli.calibration.stages import calibrate_cascade

    stages = records()
    n, k = len(stages[0]), len(stages)
    whole = [float(labelled_from(rows).correct.mean()) for rows in stages]
    rng = np.random.default_rng(args.seed)
    print(f"PandaLM test set, {n} items; stages: PandaLM-7B (agreement {whole[0]:.3f}), "
          f"gpt-3.5-turbo ({whole[1]:.3f}); {args.splits} random 50/50 splits; delta "
          f"{args.delta}")
    print(f"{'target':>7} {'rule':>18} {'miss test':>10} {'miss pop.':>10} "
          f"{'miss pop. by stage':>19} {'coverage':>9} {'by stage':>14}")
    for target in args.targets:
        tally = {rule: {"test": 0, "pop": 0, "stage": np.zeros(k), "cover": 0.0,
                        "share": np.zeros(k)} for rule in ("empirical", "trust-or-escalate")}
        for _ in range(args.splits):
            order = rng.permutation(n)
            fit, test = order[: n // 2], order[n // 2:]
            for rule, delta in (("empirical", None), ("trust-or-escalate", args.delta)):
                calibration = calibrate_cascade(
                    [labelled_from([rows[i] for i in fit]) for rows in stages],
                    target_accuracy=target, delta=delta, indicator="none") \
                    if _reaches_two(stages, fit, target, delta) else None
                if calibration is None:  # stage 1 kept every item: stage 2 sees none
                    calibration = _single(stages, fit, target, delta)
                stage_of, right = decided_by([[rows[i] for i in test] for rows in stages],
                                             calibration)
                count = tally[rule]
                count["test"] += misses(stage_of, right, target, k)[0]
                count["cover"] += float((stage_of > 0).mean())
                count["share"] += [float((stage_of == s).mean()) for s in range(1, k + 1)]
                stage_of, right = decided_by(stages, calibration)
                missed, by_stage = misses(stage_of, right, target, k)
                count["pop"] += missed
                count["stage"] += by_stage
        for rule, count in tally.items():
            by_stage = " ".join(f"{v / args.splits:.3f}" for v in count["stage"])
            shares = " ".join(f"{v / args.splits:.3f}" for v in count["share"])
            print(f"{target:7.2f} {rule:>18} {count['test'] / args.splits:10.3f} "
                  f"{count['pop'] / args.splits:10.3f} {by_stage:>19} "
                  f"{count['cover'] / args.splits:9.3f} {shares:>14}")


def _reaches_two(stages: list[list[dict[str, Any]]], fit: np.ndarray, target: float,
                 delta: float | None) -> bool:
    """Whether stage 1, calibrated on ``fit``, passes any item on."""
    from judgecli.calibration import calibrate, labelled_from
    from judgecli.calibration.stages import escalated_ids

    data = labelled_from([stages[0][i] for i in fit])
    return bool(escalated_ids(data, calibrate(data, target_accuracy=target, delta=delta,
                                              indicator="none")))


def _single(stages: list[list[dict[str, Any]]], fit: np.ndarray, target: float,
            delta: float | None) -> dict[str, Any]:
    from judgecli.calibration import calibrate, labelled_from

    return calibrate(labelled_from([stages[0][i] for i in fit]), target_accuracy=target,
                     delta=delta, indicator="none")


if __name__ == "__main__":
    main()
