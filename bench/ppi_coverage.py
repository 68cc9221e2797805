"""Do the judge-corrected (PPI++) intervals of ``report`` cover the truth at their level?

    python bench/ppi_coverage.py                     # 2,000 subsets per size; about a minute
    python bench/ppi_coverage.py --reps 500 --alpha 0.1

On real files with a person's label on every item and a judge's verdict (../shared/data):
PandaLM's test set (999 items, the majority of three annotators) judged by gpt-3.5-turbo and
by PandaLM-7B, and LLMBar's five sets together (419 items) judged by GPT-4 in both orders.
The truth is the win rate of A (ties half) that the labels give over the whole file. For each
size n, ``--reps`` uniform random subsets of n items keep their labels and the rest keep only
the judge's verdict; each subset gets report's PPI++ interval (judgecli.report.ppi.ppi_mean,
what ``report --labels`` computes, on the outcomes report reads from the converted file) and
the classical interval of its n labels alone. Printed per file and n: how often each covers
the truth, their mean widths, the mean λ, the mean effective labels, and how often report's
non-random-subset check (judgecli.report.corrected.not_random, on the judge's verdict)
refused a subset that was in fact random.

The subsets are drawn without replacement from a finite file, so the intervals (which treat
the items as draws from an infinite population) should cover at least the nominal rate.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judgecli.io.jsonl import dumps  # noqa: E402
from judgecli.report.convert import llmbar, pandalm  # noqa: E402
from judgecli.report.corrected import _outcomes, not_random  # noqa: E402
from judgecli.report.load import read_judgments  # noqa: E402
from judgecli.report.ppi import ppi_mean  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def outcomes(records: list[dict], tmp: str, name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Y and Ŷ of every item as report reads them (a failed judgment predicts half)."""
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(dumps(r) + "\n" for r in records)
    judgments = read_judgments(path)
    got = _outcomes(judgments, "wrong")
    assert not np.isnan(got.y).any(), "every item needs a label"
    return got.y, got.yhat, got.factors


def files(tmp: str) -> dict[str, tuple[np.ndarray, np.ndarray, dict]]:
    testset = str(DATA / "pandalm" / "testset-v1.json")
    out = {}
    for judge in ("gpt-3.5-turbo", "pandalm-7b"):
        rows = list(pandalm(testset, str(DATA / "pandalm" / f"{judge}-testset-v1.json")))
        out[f"PandaLM, {judge}"] = outcomes(rows, tmp, f"{judge}.jsonl")
    rows = [r for path in sorted(glob.glob(str(DATA / "llmbar" / "*.gpt4-vanilla.json")))
            for r in llmbar(path)]
    out["LLMBar (5 sets), GPT-4"] = outcomes(rows, tmp, "llmbar.jsonl")
    return out


def simulate(y: np.ndarray, yhat: np.ndarray, factors: dict, n: int, reps: int,
             alpha: float, rng: np.random.Generator) -> dict[str, float]:
    truth = float(y.mean())
    covered = np.zeros(2)
    width = np.zeros(2)
    lam = effective = 0.0
    refused = 0
    for _ in range(reps):
        labelled = np.zeros(len(y), dtype=bool)
        labelled[rng.choice(len(y), n, replace=False)] = True
        if not_random(labelled, factors) is not None:
            refused += 1
        m = ppi_mean(y[labelled], yhat[labelled], yhat[~labelled], alpha)
        for k, ci in enumerate((m.ci, m.classical_ci)):
            covered[k] += ci[0] <= truth <= ci[1]
            width[k] += ci[1] - ci[0]
        lam += m.lam
        effective += m.effective_labels or 0.0
    return {"truth": truth, "judge": float(yhat.mean()), "ppi_cover": covered[0] / reps,
            "classical_cover": covered[1] / reps, "ppi_width": width[0] / reps,
            "classical_width": width[1] / reps, "lambda": lam / reps,
            "effective": effective / reps, "refused": refused / reps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"{DATA} is not here", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    level = f"{100 * (1 - args.alpha):g}%"
    print(f"{level} intervals, {args.reps} random labelled subsets per row, seed {args.seed}; "
          "cover: share of subsets whose interval holds the truth (Monte Carlo s.e. about "
          f"{np.sqrt(args.alpha * (1 - args.alpha) / args.reps):.3f})")
    header = (f"{'file':<26} {'items':>5} {'n':>4} {'truth':>6} {'judge':>6} "
              f"{'PPI++ cover':>11} {'width':>6} {'labels cover':>12} {'width':>6} "
              f"{'lambda':>6} {'eff. n':>6} {'refused':>7}")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (y, yhat, factors) in files(tmp).items():
            sizes = [25, 50, 100] if len(y) < 500 else [50, 100, 200, 400]
            for n in sizes:
                r = simulate(y, yhat, factors, n, args.reps, args.alpha, rng)
                print(f"{name:<26} {len(y):>5} {n:>4} {r['truth']:>6.3f} {r['judge']:>6.3f} "
                      f"{r['ppi_cover']:>11.3f} {r['ppi_width']:>6.3f} "
                      f"{r['classical_cover']:>12.3f} {r['classical_width']:>6.3f} "
                      f"{r['lambda']:>6.2f} {r['effective']:>6.0f} {r['refused']:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
