"""Judge-corrected figures of a file whose labels cover only part of its items (``corrected``).

When some items have a person's label and the rest only the judge's verdict, the labelled
items correct the judge's figure over all items (PPI++, :mod:`judgecli.report.ppi`):

* ``win_rate`` (pairwise): the share of A's wins, a tie counting half; Y is the label and Ŷ
  the judge's combined verdict, each scored A = 1, B = 0, tie = 0.5;
* ``pass_rate`` (pass / fail judgments): pass = 1, fail = 0;
* ``mean_score`` (grades): the mean label, Ŷ the judge's grade;
* ``ratings`` (pairwise files whose records name three models or more in ``model_a`` and
  ``model_b``): Bradley-Terry ratings from the same Y and Ŷ, one game per item, through PPI++
  logistic regression on Bradley-Terry's design (a row is +1 for model A, -1 for model B,
  without the anchor's column), on the Elo scale with the anchor (``--baseline``, else the
  first model named) at 1000.

A failed judgment predicts 0.5 (half a win, or half a pass): PPI++'s correction stays
unbiased whatever the prediction, so the estimate is still of every item's label;
``--errors drop`` leaves such items out instead, as everywhere. A grade without a number is
left out. Beside each figure: the judge's own (Ŷ over every item), the classical interval of
the labels alone, λ, and the effective number of labels (n x the labels-only variance / the
PPI++ variance: the labels a classical interval would need to be as narrow).

With fewer than 10 labelled items there is no figure either, only why (``too_few``): a
normal-approximation interval from so few is noise. The intervals assume the labelled items
are a uniform random subset. That cannot be proved
from the data, but some departures show, and then no figure is given, only why
(``not_random``). The rule: for each of the judge's verdict (its grade, for at most 20
distinct grades), the ``--by`` group and the pair of models: the labelled items must not
all share one value that the unlabelled items vary on, when that would happen by chance with
probability below 0.001 (the value's share of the items to the power n), and the share
labelled must not differ across its values by Pearson's chi-square test of independence (no
continuity correction) at p < 0.001.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .bradley_terry import SCALE
from .codes import FAIL, FAILED, PASS, TIE, A, B
from .columns import BINARY, PAIR, SINGLE
from .load import Judgments
from .ppi import LogisticData, NoFit, as_list, ppi_logistic, ppi_mean

P_NOT_RANDOM = 0.001
MAX_GRADES = 20  # grades tested for non-random labelling (more: a continuous score)
MIN_LABELLED = 10  # fewer: no interval (a normal approximation of 3 labels is noise)
BASE_RATING = 1000.0
FIGURE = {PAIR: "win_rate", BINARY: "pass_rate", SINGLE: "mean_score"}


@dataclass(frozen=True)
class Outcomes:
    y: np.ndarray  # the label of each item, nan where there is none
    yhat: np.ndarray  # the judge's prediction
    factors: dict[str, tuple[np.ndarray, list[str]]]  # name -> (codes, their names)
    keep: np.ndarray  # the items used, in the Judgments' order


def corrected_figures(j: Judgments, *, errors: str, alpha: float,
                      baseline: str | None = None) -> dict[str, Any] | None:
    """``corrected``: None unless labels cover part of the items; with fewer than
    MIN_LABELLED of them, or not a random subset, only why there is no figure."""
    if j.kind is None:
        return None
    outcomes = _outcomes(j, errors)
    labelled = ~np.isnan(outcomes.y)
    n, big_n = int(labelled.sum()), int((~labelled).sum())
    if n == 0 or big_n == 0:
        return None
    out: dict[str, Any] = {"method": "ppi++", "alpha": alpha, "n_labelled": n,
                           "n_unlabelled": big_n, "too_few": None, "not_random": None,
                           "win_rate": None, "pass_rate": None, "mean_score": None,
                           "ratings": None}
    if n < MIN_LABELLED:
        out["too_few"] = (f"{n} labelled item{'s' if n > 1 else ''}; a normal-approximation "
                          f"interval needs at least {MIN_LABELLED}")
        return out
    out["not_random"] = not_random(labelled, outcomes.factors)
    if out["not_random"] is not None:
        return out
    y, yhat = outcomes.y[labelled], outcomes.yhat[labelled]
    yhat_u = outcomes.yhat[~labelled]
    m = ppi_mean(y, yhat, yhat_u, alpha)
    out[FIGURE[j.kind]] = {
        "method": "ppi++", "estimate": m.estimate, "ci": as_list(m.ci), "n_labelled": n,
        "n_unlabelled": big_n, "lambda": m.lam, "classical_estimate": m.classical_estimate,
        "classical_ci": as_list(m.classical_ci),
        "judge_only": float(outcomes.yhat.mean()), "effective_labels": m.effective_labels}
    if j.kind == PAIR and j.game_models is not None:
        out["ratings"] = ratings(j.game_models[outcomes.keep], j.game_model_names,
                                 outcomes.y, outcomes.yhat, alpha, baseline)
    return out


def _outcomes(j: Judgments, errors: str) -> Outcomes:
    factors: dict[str, tuple[np.ndarray, list[str]]] = {}
    if j.kind == SINGLE:
        keep = ~np.isnan(j.score)
        y, yhat = j.label_value[keep], j.score[keep]
        grades = np.unique(yhat)
        if len(grades) <= MAX_GRADES:
            factors["the judge's grade"] = (np.searchsorted(grades, yhat),
                                            [f"{g:g}" for g in grades])
    else:
        keep = np.ones(len(j), dtype=bool)
        if errors == "drop":
            keep = ~(j.failed | (j.order_ab == FAILED) | (j.order_ba == FAILED))
        verdict, label = j.verdict[keep], j.label[keep]
        score = {A: 1.0, B: 0.0, TIE: 0.5, PASS: 1.0, FAIL: 0.0}
        yhat = np.full(len(verdict), 0.5)  # a failed judgment: half
        y = np.full(len(verdict), np.nan)
        for code, value in score.items():
            yhat[verdict == code] = value
            y[label == code] = value  # NO_LABEL stays nan
        names = ["pass", "fail"] if j.kind == BINARY else ["A", "B", "tie"]
        codes = [PASS, FAIL] if j.kind == BINARY else [A, B, TIE]
        verdict_factor = np.full(len(verdict), len(codes))
        for k, code in enumerate(codes):
            verdict_factor[verdict == code] = k
        factors["the judge's verdict"] = (verdict_factor, [*names, "failed"])
    where = np.flatnonzero(keep)
    if len(j.groups) > 1:
        factors["the --by group"] = (j.group[where], list(j.groups))
    if j.game_models is not None:
        pairs, pair_codes = np.unique(j.game_models[where], axis=0, return_inverse=True)
        model = [*j.game_model_names, "-"]  # code -1: an item that names no model
        factors["the pair of models"] = (pair_codes.ravel(),
                                         [f"{model[a]} vs {model[b]}" for a, b in pairs])
    return Outcomes(y=y, yhat=yhat, factors=factors, keep=where)


def not_random(labelled: np.ndarray, factors: dict[str, tuple[np.ndarray, list[str]]],
               ) -> str | None:
    """Why the labelled items are not a random subset, or None when no test says so."""
    for what, (codes, names) in factors.items():
        values = np.unique(codes)
        if len(values) < 2:
            continue
        with_label = np.unique(codes[labelled])
        without = np.unique(codes[~labelled])
        if len(with_label) == 1 and len(without) > 1:
            # As likely by chance as drawing every labelled item from that value's share.
            value = int(with_label[0])
            chance = float(np.mean(codes == value)) ** int(labelled.sum())
            if chance < P_NOT_RANDOM:
                return (f"every labelled item has the same value of {what} ({names[value]}), "
                        f"which the unlabelled items vary on (by chance: p = {chance:.2g} < "
                        f"{P_NOT_RANDOM:g})")
        table = np.array([np.bincount(codes[labelled], minlength=len(names)),
                          np.bincount(codes[~labelled], minlength=len(names))])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            continue
        from scipy.stats import chi2_contingency

        p = float(chi2_contingency(table, correction=False).pvalue)
        if p < P_NOT_RANDOM:
            shares = table[0] / table.sum(axis=0)
            present = [names[int(v)] for v in values]
            shown = ", ".join(f"{name} {s:.2f}" for name, s in
                              zip(present[:6], shares[:6], strict=False))
            return (f"the share of items labelled differs across {what} ({shown}"
                    f"{', ...' if len(present) > 6 else ''}; chi-square p = {p:.2g} < "
                    f"{P_NOT_RANDOM:g})")
    return None


def ratings(models: np.ndarray, names: list[str], y: np.ndarray, yhat: np.ndarray,
            alpha: float, baseline: str | None) -> dict[str, Any] | None:
    """PPI++ Bradley-Terry ratings of three models or more; None with fewer, or when an
    item names no model; ``error`` when the fit has no finite maximum."""
    if (models < 0).any():
        return None
    present = sorted(set(np.unique(models).tolist()))
    if len(present) < 3:
        return None
    anchor = names.index(baseline) if baseline in names else present[0]
    if anchor not in present:
        anchor = present[0]
    columns = [m for m in present if m != anchor]
    lookup = np.full(max(present) + 1, -1)
    lookup[columns] = np.arange(len(columns))
    x = np.zeros((len(models), len(columns)))
    for side, sign in ((0, 1.0), (1, -1.0)):
        col = lookup[models[:, side]]
        x[np.flatnonzero(col >= 0), col[col >= 0]] += sign
    labelled = ~np.isnan(y)
    out: dict[str, Any] = {"method": "ppi++ bradley-terry", "anchor": names[anchor],
                           "n_labelled": int(labelled.sum()),
                           "n_unlabelled": int((~labelled).sum()), "lambda": None,
                           "models": None, "error": None}
    data = LogisticData(x[labelled], y[labelled], yhat[labelled], x[~labelled],
                        yhat[~labelled])
    try:
        fit = ppi_logistic(data, alpha)
    except NoFit as exc:
        out["error"] = str(exc)
        return out
    out["lambda"] = fit.lam

    def elo(v: float) -> float:
        return BASE_RATING + SCALE * float(v)

    rows_out = [{"model": names[anchor], "anchor": True, "rating": BASE_RATING, "ci": None,
                 "classical_ci": None}]
    for k, m in enumerate(columns):
        classical = fit.classical_ci
        rows_out.append({
            "model": names[m], "anchor": False, "rating": elo(fit.estimate[k]),
            "ci": [elo(fit.ci[k, 0]), elo(fit.ci[k, 1])],
            "classical_ci": None if classical is None else
            [elo(classical[k, 0]), elo(classical[k, 1])]})
    rows_out.sort(key=lambda r: -r["rating"])
    out["models"] = rows_out
    return out
