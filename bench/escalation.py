"""Does an escalation threshold hold its target on new items? The empirical threshold
(`calibrate --target-accuracy A`) against Trust or Escalate's (`... --delta D`), over many
random calibration/test splits of real labelled judgments judgecli did not tune on.

    python bench/escalation.py [--splits 1000] [--delta 0.1] [--targets 0.70 0.75 0.78 0.80]

Data: LLMBar's five sets (princeton-nlp/LLMBar, in ../shared/data/llmbar) with GPT-4's
verdicts in both orders and the gold labels, 419 pairwise items, converted as `judgecli
convert llmbar` converts them. GPT-4 gives no probabilities there, so the indicator is the
one every swapped run has: whether the two orders agree (`swap`, 1 or 0). Each split
calibrates on a random half and applies the threshold to the other half: a split *misses*
when the kept verdicts there agree with the labels less than the target (a split keeping
nothing never misses). The test half's agreement is itself a sample of about 210 items (a
standard error of about 0.03), so a second column takes the whole file as the population
the calibration half was drawn from: a split misses there when the verdicts its threshold
keeps, over all 419 items, agree less than the target (what the guarantee bounds: the
agreement of the kept items in the population, with probability 1 - delta). Printed per
target: both shares of splits that miss, and the mean share of test items kept (coverage).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LLMBAR = ROOT.parent / "shared" / "data" / "llmbar"
SETS = ("natural", "adversarial-gptinst", "adversarial-gptout", "adversarial-manual",
        "adversarial-neighbor")


def records() -> list[dict]:
    from judgecli.report.convert import llmbar

    rows = []
    for name in SETS:
        for row in llmbar(str(LLMBAR / f"{name}.gpt4-vanilla.json")):
            judgment = row["judgment"]
            judgment["indicators"] = {"swap": {"consistent": judgment["consistent"]}}
            rows.append(row)
    return rows


def held_out(rows: list[dict], calibration: dict) -> tuple[float | None, float]:
    """(kept agreement, kept share) of ``rows`` under a calibration's threshold."""
    from judgecli.calibration import escalate_mask, labelled_from

    data = labelled_from(rows)
    values = data.values(calibration["indicator"], calibration.get("alpha") or 1.0)
    kept = ~escalate_mask(data, values, calibration["threshold"],
                          calibration["escalate_inconsistent"])
    return (float(data.correct[kept].mean()) if kept.any() else None), float(kept.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.70, 0.75, 0.78, 0.80])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not LLMBAR.is_dir():
        sys.exit(f"{LLMBAR} is not here (see the README, Development)")

    from judgecli.calibration import calibrate, labelled_from

    rows = records()
    rng = np.random.default_rng(args.seed)
    print(f"LLMBar, {len(rows)} items; {args.splits} random 50/50 splits; delta {args.delta}")
    print(f"{'target':>7} {'rule':>22} {'missing (test half)':>20} "
          f"{'missing (population)':>21} {'coverage':>9}")
    for target in args.targets:
        tally = {"empirical": [0, 0.0, 0], "trust-or-escalate": [0, 0.0, 0]}
        for _ in range(args.splits):
            order = rng.permutation(len(rows))
            half = len(rows) // 2
            fit_rows = [rows[i] for i in order[:half]]
            test_rows = [rows[i] for i in order[half:]]
            data = labelled_from(fit_rows)
            for rule, delta in (("empirical", None), ("trust-or-escalate", args.delta)):
                fitted = calibrate(data, target_accuracy=target, delta=delta)
                agreement, coverage = held_out(test_rows, fitted)
                tally[rule][0] += agreement is not None and agreement < target - 1e-12
                tally[rule][1] += coverage
                agreement, _ = held_out(rows, fitted)
                tally[rule][2] += agreement is not None and agreement < target - 1e-12
        for rule, (missed, covered, missed_all) in tally.items():
            print(f"{target:7.2f} {rule:>22} {missed / args.splits:20.3f} "
                  f"{missed_all / args.splits:21.3f} {covered / args.splits:9.3f}")


if __name__ == "__main__":
    main()
