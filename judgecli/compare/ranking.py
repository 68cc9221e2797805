"""compare's Bradley-Terry ranking of several models from pairwise verdicts, with bootstrap
intervals over prompts; the fit is :mod:`judgecli.report.bradley_terry` (Arena-Hard's too).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def bradley_terry(models: Sequence[str], games: Sequence[tuple[str, str, float, Any]], *,
                  resamples: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """compare's ranking. ``games``: (model_a, model_b, outcome for a in {1, 0.5, 0},
    prompt key); mean 1000; the interval is the percentile bootstrap over prompts (every
    game of a prompt resampled together), seeded. A rating or bound that is not finite is
    None."""
    from ..report.bradley_terry import elo, finite, interval, single_threaded, strengths

    names = list(models)
    index = {m: k for k, m in enumerate(names)}
    i = np.array([index[a] for a, *_ in games], dtype=np.int64)
    j = np.array([index[b] for _, b, *_ in games], dtype=np.int64)
    share = np.array([float(o) for _, _, o, _ in games])
    prompts = sorted({key for *_, key in games}, key=str)
    by_prompt = {p: k for k, p in enumerate(prompts)}
    game_prompt = np.array([by_prompt[key] for *_, key in games], dtype=np.int64)
    n = len(names)
    point = elo(strengths(n, i, j, share, np.ones(len(games))))
    rng = np.random.default_rng(seed)

    def weights() -> Iterable[np.ndarray]:
        for _ in range(resamples):
            counts = np.bincount(rng.integers(0, len(prompts), len(prompts)),
                                 minlength=len(prompts))
            yield counts[game_prompt].astype(float)

    with single_threaded():
        boot = np.array([elo(strengths(n, i, j, share, w)) for w in weights()]).reshape(-1, n)
    out = []
    for k, name in enumerate(names):
        ci = interval(boot[:, k])
        out.append({"model": name, "rating": finite(point[k]),
                    "rating_ci": None if ci is None else [finite(v) for v in ci],
                    "_order": point[k]})
    out.sort(key=lambda r: -r["_order"] if not math.isnan(r["_order"]) else math.inf)
    for rank, row in enumerate(out, start=1):
        del row["_order"]
        row["rank"] = rank
    return out
