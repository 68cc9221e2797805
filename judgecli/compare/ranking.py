"""A Bradley-Terry ranking of several models from pairwise verdicts, with bootstrap intervals.

P(i beats j) = 1 / (1 + exp(-(s_i - s_j))). The strengths s are the coefficients of a
logistic regression without intercept or penalty on rows x = e_i - e_j (Bradley & Terry 1952;
the fit Chatbot Arena uses, lm-sys/FastChat fastchat/serve/monitor/elo_analysis.py
``compute_mle_elo``); a tie counts as half a win each way, as there. Strengths are reported
on the Elo scale (400 / ln 10 per unit, mean 1000) so that differences read familiarly.
The interval is the percentile bootstrap over prompts (every game of a prompt resampled
together), seeded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

SCALE = 400 / math.log(10)


def _fit(models: list[str], games: list[tuple[int, int, float]],
         weights: np.ndarray | None = None) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    n = len(models)
    rows, ys, ws = [], [], []
    for k, (i, j, outcome) in enumerate(games):
        w = 1.0 if weights is None else float(weights[k])
        if w == 0:
            continue
        x = np.zeros(n)
        x[i], x[j] = 1.0, -1.0
        for y, share in ((1, outcome), (0, 1.0 - outcome)):
            if share > 0:
                rows.append(x)
                ys.append(y)
                ws.append(w * share)
    if len(set(ys)) < 2:
        # One model won every game: the maximum-likelihood strengths are infinite.
        return np.full(n, np.nan)
    fit = LogisticRegression(fit_intercept=False, C=1e6, max_iter=1000, tol=1e-8)
    fit.fit(np.array(rows), np.array(ys), sample_weight=np.array(ws))
    s = fit.coef_[0]
    return SCALE * (s - s.mean()) + 1000.0


def bradley_terry(models: Sequence[str], games: Sequence[tuple[str, str, float, Any]], *,
                  resamples: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Rank models. ``games``: (model_a, model_b, outcome for a in {1, 0.5, 0}, prompt key)."""
    names = list(models)
    index = {m: k for k, m in enumerate(names)}
    coded = [(index[a], index[b], float(o)) for a, b, o, _ in games]
    prompts = sorted({key for *_, key in games}, key=str)
    point = _fit(names, coded)
    rng = np.random.default_rng(seed)
    by_prompt = {p: k for k, p in enumerate(prompts)}
    game_prompt = np.array([by_prompt[key] for *_, key in games])
    draws = []
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, len(prompts), len(prompts)),
                             minlength=len(prompts))
        draws.append(_fit(names, coded, counts[game_prompt].astype(float)))
    boot = np.array(draws)
    out = []
    for k, name in enumerate(names):
        column = boot[:, k][~np.isnan(boot[:, k])]
        ci = [float(np.percentile(column, 2.5)), float(np.percentile(column, 97.5))] \
            if column.size else None
        out.append({"model": name, "rating": None if np.isnan(point[k]) else float(point[k]),
                    "rating_ci": ci})
    out.sort(key=lambda r: -(r["rating"] if r["rating"] is not None else -math.inf))
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    return out
