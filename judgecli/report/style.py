"""Style control (``report --style-control``, ``compare --style-control``): Arena-Hard-Auto
v2.0's Bradley-Terry fit with the answers' length and markdown as features, so that a ranking
is not bought with longer, more formatted answers.

Following lmarena/arena-hard-auto, show_result.py at commit
005ac120c11d3a1bbc35b0408a926dbc614de9c7 (``load_judgments``,
``print_leaderboard_with_style_features``, run as ``--control-features markdown length``),
utils/math_utils.py at a9e743cc0b2c769219d2c4dd573af3d6da17698b
(``one_hot_encode``, ``fit_pairwise_model`` with the "bt" loss, ``bootstrap_pairwise_model``,
``to_winrate_probabilities``) and utils/add_markdown_info.py at
3bab2949d60ff0eae3af80cbd4c869a818bb7dd6 (``count_markdown_elements``, ``remove_pattern``),
which v2.0's gen_answer.py applies to every answer it writes:

* An answer's style (``answer_style``): its length, in o200k_base tokens, and its markdown
  headers, list items and bold spans outside code fences.
* Battles, as ``load_judgments`` makes them from a judgment of a model against the baseline:
  first the game in which the model was shown first, then the one with the baseline first;
  a strong verdict (A>>B, B>>A) is 3 battles, any other 1, each scoring the model 1, 0.5 or 0.
* A battle's features, model against baseline: length (l_m - l_b) / (l_m + l_b); for headers,
  lists and bold the densities d = count / length and (d_m - d_b) / (d_m + d_b + 1); each
  standardised over all battles (mean 0, sample standard deviation 1, as ``torch.std``).
* The fit: logistic regression without penalty, P(model wins) = sigmoid(c_model -
  c_baseline + beta . features), a tie an outcome of 0.5; the model's win rate against the
  baseline is sigmoid(c_model - c_baseline).
* Bootstrap: ``--rounds`` fits (100, the original's) on n battle rows drawn with replacement,
  as ``np.random.randint(0, n, (rounds, n))``: numpy's ``RandomState(--seed)`` draws the same
  rows that the original draws after ``np.random.seed(seed)``. The controlled score is the
  median of the rounds' win rates (%), its 90% interval their 5th and 95th percentiles
  (linear, pandas' ``quantile``); the style coefficients are the rounds' medians.

Where judgecli differs, and why:

* Each fit is solved to its optimum (Newton's method in float64) with the baseline's
  coefficient at 0; the original stops L-BFGS after 50 iterations in float32, and its
  baseline column (-1 in every row) leaves one direction of its coefficients free (the win
  rates do not depend on it). Test: tests/test_style_control.py, against the original's code.
* Beside the controlled score, ``score``: the same fits without the style features, so that
  the two differ by the style control alone. With every battle against the baseline this is
  a round's mean battle score of the model, the figure whose mean over per-model resamples is
  Arena-Hard v2.0's uncontrolled score (``print_leaderboard``; ``arenahard_score``). And
  ratings, which the original does not print: both fits on the Elo scale (400 per factor of
  10 in the odds, the baseline at 1000), median and 5th-95th percentiles.
* The baseline: ``--baseline``, else the one model in every record, else (two models in
  every record) the first record's ``model_a``. Games between two other models are left out,
  and counted (``battles_left_out``): the original has none.
* Files without five-level verdicts: each order's verdict (``judgment.orders[]``, or the
  item's verdict where it has no orders) is one battle. ``--errors`` as for Arena-Hard's
  figures: ``tie`` counts a failed game as a tie, ``wrong`` and ``drop`` leave the item out.
* Length: in characters where tiktoken's o200k_base cannot be read offline
  (``answer_style``); ``length_unit`` and the printed note say so (``length_note``: why).
  The length feature does not depend on the unit; the markdown densities do a little,
  through their + 1.
* Degenerate data: a feature that is the same in every battle (no answer has bold) is left
  out of the fit and named (``features_left_out``; the original divides by a zero standard
  deviation and fits NaN); an empty answer has densities 0, two empty answers a length
  feature of 0 (the original: 0 / 0). A model that wins (loses) every battle of a round has
  the win rate 100% (0%) in it, the likelihood's limit; one absent from a round's draw, or a
  round whose fit has no optimum (``rounds_without_optimum``), is left out of the
  percentiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import JudgecliError
from .answer_style import StyleData
from .codes import ABSENT, FAILED

FEATURES = ("length", "headers", "lists", "bold")
SCALE = 400 / math.log(10)
STRONG = 3  # Arena-Hard's weight of A>>B and B>>A
# label5 codes (arenahard.LABELS5 order: A>>B, A>B, A=B, B>A, B>>A): B's score, battles
B_SCORE = np.array([0.0, 0.0, 0.5, 1.0, 1.0])
WEIGHT = np.array([STRONG, 1, 1, 1, STRONG])
VERDICT_LABEL = np.array([1, 3, 2])  # verdict codes A, B, tie as label5 codes A>B, B>A, A=B
NEWTON_STEPS = 100
CERTAIN = 30.0  # a fitted log-odds this large (odds of 1e13) is no optimum but separation


# -- the figures --------------------------------------------------------------------------

@dataclass
class Battles:
    """The battles against the baseline, one row per battle, in the original's order."""

    model: np.ndarray  # index into ``names`` (the baseline's own index is never used)
    outcome: np.ndarray  # the model's score: 1, 0.5, 0
    game: np.ndarray  # the game each battle row comes from (a strong game: 3 rows)
    features: np.ndarray  # battles x 4, before standardising
    left_out: int = 0  # battles between two models neither of which is the baseline


def _game_codes(label5: np.ndarray | None, order_ab: np.ndarray, order_ba: np.ndarray,
                verdict: np.ndarray) -> tuple[np.ndarray, bool]:
    """Each item's two games as label5 codes (ABSENT: not judged; FAILED), and whether
    they are five-level verdicts."""
    if label5 is not None:
        return label5, True
    games = np.stack([order_ab, order_ba], axis=1).astype(np.int8)
    # an item judged without orders: its verdict is its one game
    no_orders = (games == ABSENT).all(axis=1)
    games[no_orders, 0] = verdict[no_orders]
    judged = games >= 0
    games[judged] = VERDICT_LABEL[games[judged]]
    return games, False


def build_battles(codes: np.ndarray, strong: bool, data: StyleData, baseline: int,
                  errors: str) -> Battles:
    """The battles of every kept item against the baseline, as ``load_judgments`` orders
    them: per item, the game with the model shown first, then the one with the baseline
    first, each repeated by its weight."""
    if errors == "tie":
        codes = np.where(codes == FAILED, 2, codes)  # A=B
        keep = np.ones(len(codes), dtype=bool)
    else:
        keep = ~(codes == FAILED).any(axis=1)
    models, values = data.models, data.values
    a_base, b_base = models[:, 0] == baseline, models[:, 1] == baseline
    against = keep & (a_base ^ b_base)
    others = keep & ~a_base & ~b_base
    model_is_a = b_base[against]
    item_codes = codes[against]
    # games in the original's order: the model shown first (AB when it is model_a) first
    first = np.where(model_is_a, item_codes[:, 0], item_codes[:, 1])
    second = np.where(model_is_a, item_codes[:, 1], item_codes[:, 0])
    game_codes = np.stack([first, second], axis=1).ravel()
    item = np.repeat(np.flatnonzero(against), 2)
    is_a = np.repeat(model_is_a, 2)
    played = game_codes >= 0
    game_codes, item, is_a = game_codes[played], item[played], is_a[played]
    weight = WEIGHT[game_codes] if strong else np.ones(len(game_codes), dtype=np.int64)
    score = np.where(is_a, 1.0 - B_SCORE[game_codes], B_SCORE[game_codes])
    own = np.where(is_a[:, None], values[item, :4], values[item, 4:])
    base = np.where(is_a[:, None], values[item, 4:], values[item, :4])
    model = np.where(is_a, models[item, 0], models[item, 1])
    left = codes[others]
    left = left[left >= 0]
    rows = np.repeat(np.arange(len(game_codes)), weight)
    return Battles(model=model[rows], outcome=score[rows], game=rows,
                   features=_features(own, base)[rows],
                   left_out=int((WEIGHT[left] if strong else np.ones(len(left))).sum()))


def _features(own: np.ndarray, base: np.ndarray) -> np.ndarray:
    """show_result.py's final_feature_tensor, before it is standardised."""
    out = np.zeros((len(own), 4))
    total = own[:, 0] + base[:, 0]
    np.divide(own[:, 0] - base[:, 0], total, out=out[:, 0], where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        own_d = np.where(own[:, :1] > 0, own[:, 1:] / own[:, :1], 0.0)
        base_d = np.where(base[:, :1] > 0, base[:, 1:] / base[:, :1], 0.0)
    out[:, 1:] = (own_d - base_d) / (own_d + base_d + 1)
    return out


def standardise(features: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Mean 0 and sample standard deviation 1 per column (torch.std); the columns that are
    constant are left out (their indices are returned)."""
    if len(features) < 2:
        return np.zeros((len(features), 0)), list(range(features.shape[1]))
    std = features.std(axis=0, ddof=1)
    used = np.flatnonzero(std > 0)
    return ((features[:, used] - features[:, used].mean(axis=0)) / std[used],
            [k for k in range(features.shape[1]) if k not in set(used.tolist())])


def fit(model: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray, k: int,
        ) -> tuple[np.ndarray, np.ndarray, bool]:
    """The maximum-likelihood coefficients (model strengths against the baseline, which is
    0; the style coefficients) of battles weighted by ``w``. A model absent from the
    weights is NaN; one that wins (loses) all its battles +inf (-inf), its battles then
    saying nothing about the rest. Where the features separate the other battles' outcomes
    there is no optimum, and everything is NaN. Returns (strengths, style, whether an
    optimum was found).
    """
    from scipy.special import expit

    total = np.bincount(model, w, k)
    won = np.bincount(model, w * y, k)
    strengths = np.full(k, np.nan)
    strengths[(total > 0) & (won >= total)] = np.inf
    strengths[(total > 0) & (won <= 0)] = -np.inf
    live = (total > 0) & (won < total) & (won > 0)
    rows = live[model] & (w > 0)
    m_live = np.flatnonzero(live)
    if not rows.any():
        return strengths, np.full(z.shape[1], np.nan), True
    column = np.searchsorted(m_live, model[rows])
    x = np.zeros((int(rows.sum()), len(m_live) + z.shape[1]))
    x[np.arange(len(x)), column] = 1.0
    x[:, len(m_live):] = z[rows]
    yy, ww = y[rows], w[rows]

    def nll(theta: np.ndarray) -> float:
        eta = x @ theta
        return float(np.sum(ww * (yy * np.logaddexp(0, -eta)
                                  + (1 - yy) * np.logaddexp(0, eta))))

    theta = np.zeros(x.shape[1])
    value = nll(theta)
    for _ in range(NEWTON_STEPS):
        p = expit(x @ theta)
        grad = x.T @ (ww * (p - yy))
        hess = (x * (ww * p * (1 - p))[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while True:
            candidate = nll(theta - t * step)
            if candidate <= value or t < 1e-10:
                break
            t /= 2
        theta, value = theta - t * step, candidate
        if np.max(np.abs(t * step)) < 1e-10:
            break
    if not np.all(np.isfinite(theta)) or np.max(np.abs(x @ theta)) > CERTAIN:
        # the features separate the outcomes: the likelihood grows without end, and the
        # step stops only because the probabilities are 0 and 1 to the last digit
        strengths[live] = np.nan
        return strengths, np.full(z.shape[1], np.nan), False
    strengths[live] = theta[:len(m_live)]
    return strengths, theta[len(m_live):], True


def _quantiles(draws: np.ndarray, qs: tuple[float, ...]) -> list[float] | None:
    """Linear percentiles of the draws that are not NaN (pandas' and torch's quantile); a
    value between an infinite draw and another is that infinity. None without draws."""
    values = np.sort(draws[~np.isnan(draws)])
    if not len(values):
        return None
    out = []
    for q in qs:
        h = (len(values) - 1) * q
        a, b = values[math.floor(h)], values[math.ceil(h)]
        g = h - math.floor(h)
        out.append(float(a if g == 0 or a == b else -np.inf if a == -np.inf else
                         np.inf if b == np.inf else a + g * (b - a)))
    return out


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def choose_baseline(data: StyleData, baseline: str | None, file: str) -> int:
    """--baseline, else the one model in every item, else a two-model file's model_a."""
    names, models = data.names, data.models
    if baseline is not None:
        if baseline not in names:
            raise JudgecliError(f"--baseline {baseline}: not a model of {file} (its models: "
                                f"{', '.join(names)})")
        return names.index(baseline)
    every = [k for k in range(len(names)) if np.all((models == k).any(axis=1))]
    if len(every) == 1:
        return every[0]
    if len(every) == 2:
        return int(models[0, 0])  # a two-model file: model_a, as Arena-Hard's score
    raise JudgecliError(f"--style-control: no model is in every record of {file}; name "
                        "the baseline with --baseline")


def style_figures(label5: np.ndarray | None, order_ab: np.ndarray, order_ba: np.ndarray,
                  verdict: np.ndarray, data: StyleData, *, file: str, errors: str,
                  baseline: str | None, seed: int, rounds: int) -> dict[str, Any] | None:
    """The style-controlled figures of one file (None: no pairwise items)."""
    if not len(data.models):
        return None
    anchor = choose_baseline(data, baseline, file)
    codes, strong = _game_codes(label5, order_ab, order_ba, verdict)
    battles = build_battles(codes, strong, data, anchor, errors)
    names = data.names
    out: dict[str, Any] = {
        "baseline": names[anchor], "battles": len(battles.outcome),
        "battles_left_out": battles.left_out,
        "battles_from": "label5" if strong else "verdict", "length_unit": data.unit,
        "length_note": data.note, "rounds": rounds, "seed": seed,
        "features_left_out": [], "rounds_without_optimum": 0, "coefficients": None,
        "ranking": []}
    n = len(battles.outcome)
    if not n:
        return out
    z, constant = standardise(battles.features)
    out["features_left_out"] = [FEATURES[k] for k in constant]
    used = [f for k, f in enumerate(FEATURES) if k not in constant]
    k = len(names)
    draws = np.random.RandomState(seed).randint(low=0, high=n, size=(rounds, n))
    # Battle rows of one game are alike: fit on games, weighing each by its draws.
    games = battles.game
    first = np.r_[0, np.flatnonzero(np.diff(games)) + 1]
    g_model, g_y, g_z = battles.model[first], battles.outcome[first], z[first]
    controlled, plain = np.full((rounds, k), np.nan), np.full((rounds, k), np.nan)
    coefs = np.full((rounds, len(used)), np.nan)
    failed = 0
    for r in range(rounds):
        w = np.bincount(games[draws[r]], minlength=len(first)).astype(float)
        controlled[r], coefs[r], ok = fit(g_model, g_z, g_y, w, k)
        failed += not ok
        plain[r], _, _ = fit(g_model, g_z[:, :0], g_y, w, k)
    out["rounds_without_optimum"] = failed
    out["coefficients"] = {f: _median_ci(coefs[:, i]) for i, f in enumerate(used)}
    rows = []
    for m in sorted({int(x) for x in battles.model} | {anchor}, key=lambda x: names[x]):
        mine = battles.model == m
        row: dict[str, Any] = {"model": names[m], "battles": n if m == anchor
                               else int(mine.sum())}
        if m == anchor:
            row.update(score=50.0, score_ci=[50.0, 50.0], controlled_score=50.0,
                       controlled_score_ci=[50.0, 50.0], rating=1000.0,
                       rating_ci=[1000.0, 1000.0], controlled_rating=1000.0,
                       controlled_rating_ci=[1000.0, 1000.0])
        else:
            for prefix, strength in (("", plain[:, m]), ("controlled_", controlled[:, m])):
                with np.errstate(over="ignore"):
                    rate = 100.0 / (1.0 + np.exp(-strength))
                q = _quantiles(rate, (0.5, 0.05, 0.95))
                row[f"{prefix}score"] = None if q is None else q[0]
                row[f"{prefix}score_ci"] = None if q is None else q[1:]
                q = _quantiles(1000.0 + SCALE * strength, (0.5, 0.05, 0.95))
                row[f"{prefix}rating"] = None if q is None else _finite(q[0])
                row[f"{prefix}rating_ci"] = None if q is None else [_finite(v) for v in q[1:]]
        rows.append(row)
    rows.sort(key=lambda r: -(r["controlled_score"] if r["controlled_score"] is not None
                              else -math.inf))
    out["ranking"] = rows
    return out


def _median_ci(draws: np.ndarray) -> dict[str, Any]:
    q = _quantiles(draws, (0.5, 0.05, 0.95))
    return {"median": None if q is None else _finite(q[0]),
            "ci": None if q is None else [_finite(v) for v in q[1:]]}
