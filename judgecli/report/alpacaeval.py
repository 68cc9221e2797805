"""AlpacaEval's leaderboard figures, from pairwise judgments that carry its preference.

``judgment.preference`` is AlpacaEval's: 1 + P(answer B better), in [1, 2], as its
logprob-weighted annotators write it (B is the model, A the baseline; see
``convert.alpacaeval``). A file in which any judgment has one gets, from the preferences
alone (tatsu-lab/alpaca_eval, src/alpaca_eval/metrics/winrate.py, ``get_winrate``):

* ``alpacaeval_win_rate``: the mean of preference - 1, x100 (P(B better), in percent);
* ``alpacaeval_standard_error``: ``scipy.stats.sem`` of those per-item values, x100;
* ``alpacaeval_discrete_win_rate``: (n_wins + n_draws / 2) / n_total x100, where a win is a
  preference above 1.5, a base win one below and a draw exactly 1.5;
* ``alpacaeval_n_wins``, ``_n_wins_base``, ``_n_draws``, ``_n_total``;
* ``alpacaeval_lc_win_rate`` and ``alpacaeval_lc_standard_error``: AlpacaEval 2's
  length-controlled win rate (Dubois et al. 2024, "Length-Controlled AlpacaEval") exactly as
  alpaca_eval computes it, with the instruction-difficulty term and the two padded ("gamed")
  baselines of its ``df_gamed.csv`` (``report --alpacaeval-gamed FILE``; ``alpacaeval_lc``);
  null without that file.
* ``alpacaeval_lc_win_rate_approx``: without ``df_gamed.csv`` (alpaca_eval downloads it at
  run time; it is not in the package), an approximation, never under the leaderboard's name:
  a logistic GLM without intercept predicts the preference - 1 of each item from a model
  term (a column of ones) and a length term tanh(delta / std(delta)), delta = len(B) -
  len(A) in characters and std with ddof 1 (as pandas' ``Series.std``), WITHOUT the
  difficulty term and the gamed baselines (``alpacaeval_lc_terms`` says so); the figure is
  sigmoid(model term) x100. The fit is the unpenalised maximum likelihood with the
  preferences as soft labels (each item as y=1 weighted p and y=0 weighted 1-p). It can be
  far from the leaderboard's (alpaca-7b: 19.83 here, 5.88 there). Where every delta is 0
  (e.g. the baseline against itself) the length term is 0 and the figure is the win rate
  itself, where AlpacaEval sets 50 for the baseline by name. Items whose answers are not
  both text are left out of this figure only. With ``--alpacaeval-gamed`` it is null.

How failed judgments (preference null) count follows ``--errors``: ``tie`` counts them as
draws (1.5); ``wrong`` and ``drop`` leave them out, as AlpacaEval leaves out annotations
without a preference, so ``alpacaeval_n_total`` says how many items the figures cover.
scipy is imported only when a file has preferences.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import numpy as np

from ..errors import InputError
from .alpacaeval_lc import Gamed, length_controlled_exact, uncovered

ALPACAEVAL_KEYS = ("alpacaeval_win_rate", "alpacaeval_standard_error",
                   "alpacaeval_discrete_win_rate", "alpacaeval_n_wins",
                   "alpacaeval_n_wins_base", "alpacaeval_n_draws", "alpacaeval_n_total",
                   "alpacaeval_lc_win_rate", "alpacaeval_lc_standard_error",
                   "alpacaeval_lc_win_rate_approx", "alpacaeval_lc_terms")
LC_TERMS_APPROX = ("model + length only: no instruction difficulty, no gamed baselines "
                   "(report --alpacaeval-gamed df_gamed.csv gives AlpacaEval's figure)")
LC_TERMS = ("length + instruction difficulty + not-gamed baseline, with the gamed "
            "baselines of {path} at weight 0.2 (AlpacaEval's length_controlled_v1)")
FIELD = "judgment.preference"


class PreferenceColumns:
    """``judgment.preference`` and len(B) - len(A) per item, kept only in files that have a
    preference (16 bytes an item there, nothing elsewhere). Items read before the first
    preference are filled in with NaN when it comes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.n = 0
        self.values: array[float] | None = None
        self.delta: array[float] | None = None
        self.first_line = 0  # the first line with a preference
        self.first_missing = 0  # the first judged item's line without one
        self.first_null = 0  # the first judged item's line with "preference": null

    def add(self, judgment: Any, len_a: int, len_b: int, failed: bool, line: int) -> None:
        value = judgment.get("preference") if type(judgment) is dict else None
        if value is None and not failed:
            self.first_missing = self.first_missing or line
            if not self.first_null and type(judgment) is dict and "preference" in judgment:
                self.first_null = line
        if value is None and self.values is None:
            self.n += 1
            return
        if self.values is None:
            self.values, self.delta = array("d", [math.nan]) * self.n, \
                array("d", [math.nan]) * self.n
            self.first_line = line
        assert self.delta is not None
        if failed or value is None:
            value = math.nan
        elif type(value) not in (int, float) or not 1.0 <= value <= 2.0:
            raise InputError(f"expected a number in [1, 2] (1 + P(B better)) or null, got "
                             f"{value!r}", file=self.file, line=line, field=FIELD)
        self.values.append(value)
        self.delta.append(len_b - len_a if len_a >= 0 and len_b >= 0 else math.nan)
        self.n += 1

    def note(self) -> str | None:
        """Why a file judged for AlpacaEval's figures has none: the run wrote the field
        (null) on items it judged, and no item got a value."""
        if self.values is not None or not self.first_null:
            return None
        return (f"no AlpacaEval figures: {FIELD} is null on every judged item (line "
                f"{self.first_null} is the first); the preference comes from the judge's "
                "logprobs (an API's top_logprobs), and none came; judge through a server "
                "that returns logprobs")

    def finish(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.values is None or self.delta is None:
            return None, None
        if self.first_missing:
            raise InputError(f"missing, while line {self.first_line} has one (AlpacaEval "
                             "figures need one per judged item)", file=self.file,
                             line=self.first_missing, field=FIELD)
        return (np.frombuffer(self.values, dtype=np.float64),
                np.frombuffer(self.delta, dtype=np.float64))


def alpacaeval_figures(preference: np.ndarray, delta_len: np.ndarray,
                       errors: str, gamed: Gamed | None = None,
                       every_item: tuple[np.ndarray, np.ndarray] | None = None,
                       file: str = "") -> dict[str, Any]:
    """The figures of the items kept; ``preference`` is NaN where the judgment failed.
    ``gamed``: AlpacaEval's df_gamed.csv, for its length-controlled win rate, fitted on
    ``every_item`` (the preferences and length differences of every item, in file order:
    AlpacaEval's instruction k is the k-th; default: the items kept)."""
    from scipy.stats import sem

    out: dict[str, Any] = dict.fromkeys(ALPACAEVAL_KEYS)
    if gamed is not None:
        every, every_delta = every_item or (preference, delta_len)
        won_all = every - 1.0
        if errors == "tie":
            won_all = np.where(np.isnan(won_all), 0.5, won_all)
        covered = uncovered(len(won_all), gamed)
        if covered is not None:
            # e.g. a file of several models' annotations, reported --by model: each group
            # gets its figure, the whole file cannot.
            out["alpacaeval_lc_terms"] = (
                f"not computed: {len(won_all)} items, and {gamed.path} has the difficulty "
                f"of {covered} instructions (item k is AlpacaEval's instruction k)")
        elif not np.all(np.isnan(won_all)):
            out["alpacaeval_lc_win_rate"], out["alpacaeval_lc_standard_error"] = \
                length_controlled_exact(won_all, every_delta, gamed, file)
            out["alpacaeval_lc_terms"] = LC_TERMS.format(path=gamed.path)
    failed = np.isnan(preference)
    if errors == "tie":
        preference = np.where(failed, 1.5, preference)
    else:
        preference, delta_len = preference[~failed], delta_len[~failed]
    n = len(preference)
    wins = int(np.count_nonzero(preference > 1.5))
    base = int(np.count_nonzero(preference < 1.5))
    out.update(alpacaeval_n_wins=wins, alpacaeval_n_wins_base=base,
               alpacaeval_n_draws=n - wins - base, alpacaeval_n_total=n)
    if not n:
        return out
    won = preference - 1.0
    out["alpacaeval_win_rate"] = float(won.mean() * 100)
    out["alpacaeval_standard_error"] = float(sem(won) * 100) if n > 1 else None
    out["alpacaeval_discrete_win_rate"] = (wins + (n - wins - base) / 2) / n * 100
    known = ~np.isnan(delta_len)
    if known.any() and gamed is None:
        out["alpacaeval_lc_win_rate_approx"] = \
            length_controlled(won[known], delta_len[known]) * 100
        out["alpacaeval_lc_terms"] = LC_TERMS_APPROX
    return out


def length_controlled(won: np.ndarray, delta_len: np.ndarray) -> float:
    """P(B better) with the length term at 0, from the GLM logit = model + length * tanh(delta
    / std(delta)) fitted to ``won`` (preference - 1) by maximum likelihood."""
    from scipy.optimize import minimize
    from scipy.special import expit

    scale = float(np.std(delta_len, ddof=1)) if len(delta_len) > 1 else 0.0
    mean = float(won.mean())
    if scale == 0.0 or mean in (0.0, 1.0):
        # No length term (every delta equal), or every item one way: the model term's
        # estimate is logit(mean), and +-infinity gives the mean itself.
        return mean
    x = np.stack([np.ones_like(delta_len), np.tanh(delta_len / scale)], axis=1)
    n = len(won)

    # The mean negative log-likelihood of the soft labels, its gradient and its Hessian
    # (convex: Newton's method with a trust region converges in a few steps).
    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta
        value = float(np.sum(won * np.logaddexp(0.0, -z) + (1 - won) * np.logaddexp(0.0, z)))
        return value / n, x.T @ (expit(z) - won) / n

    def hessian(theta: np.ndarray) -> np.ndarray:
        p = expit(x @ theta)
        return (x.T * (p * (1 - p))) @ x / n

    start = np.array([math.log(mean / (1 - mean)), 0.0])
    fit = minimize(loss, start, jac=True, hess=hessian, method="trust-exact",
                   options={"gtol": 1e-12})
    return float(expit(fit.x[0]))
