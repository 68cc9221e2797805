"""Arena-Hard's score and ranking, from pairwise judgments that carry its five-level verdict.

``judgment.orders[k].label5`` is one order's (one game's) verdict on Arena-Hard's scale,
``"A>>B"``, ``"A>B"``, ``"A=B"``, ``"B>A"`` or ``"B>>A"``, in the ORIGINAL A/B terms as the
order's ``verdict`` is (the judge's "[[A>>B]]" in order BA is written "B>>A"); null where the
order failed. Its direction must agree with the order's verdict. Following
lmarena/arena-hard-auto (show_result.py, utils/math_utils.py, utils_math.py):

* A strong verdict counts as 3 battles, a slight one or a tie as 1 (``--weight 3``); each
  battle scores 1 for the winner, 0.5 each for a tie (v2.0 ``load_judgments``).
* ``arenahard_score``: B's score against A (A the baseline, as in Arena-Hard's first game),
  in percent: the mean of 100 bootstrap means of B's battle scores, and ``_score_ci`` their
  5% and 95% quantiles (v2.0 ``print_leaderboard``: a 90% interval). Resampling n battles
  with replacement from scores that take three values is one Multinomial(n, shares) draw.
* ``arenahard_ranking``, for files of three models or more with ``model_a`` and
  ``model_b`` and a baseline (``--baseline``, or the one model in every record): per model,
  its ``score`` against the baseline as above (from its battles with the baseline), and the
  Bradley-Terry rating of all battles (``compute_mle_elo``: logistic regression, 400 /
  ln 10 per unit, the baseline at 1000; see ``bradley_terry``), with the 2.5% and
  97.5% percentiles of its fit on resampled battles (``get_bootstrap_result``), and the
  ``win_rate`` against the baseline that the ratings predict, 100 / (1 + 10^((1000 - r) /
  400)), its interval those of the rating bounds (``get_win_rate_column``). Where a
  rating is infinite (a model that never won, or never lost) the win rate is 0 or 100 and
  the rating null. The bootstrap is seeded (``--seed``) and has ``--rounds`` rounds (100,
  Arena-Hard's ``--num-rounds``).

Each figure follows one version of Arena-Hard, whole: the score is v2.0's (its battles,
its rule for a failed game), the ranking v0.1's (``show_result.py`` of v0.1: its battles,
``compute_mle_elo``, ``get_bootstrap_result``). How failed games count follows ``--errors``:
``tie`` counts a failed game as A=B everywhere; ``wrong`` leaves out of the score the item,
both its games, as v2.0's ``load_judgments`` leaves out a judgment with a null game, and out
of the ranking only the failed game, as v0.1's ``get_battles_from_judgment`` gives a game
without a score no battle and keeps the other; ``drop`` leaves the item out of everything
(as every figure of ``--errors drop``). An item judged in one order counts its one game
(Arena-Hard's ``--first-game-only``).

One score per pair: a pair's score, its 90% interval included, comes from a bootstrap seeded
with ``--seed`` for that pair alone, so the ranking's row of a model and the pair's own
figures (``compare``'s line, ``--by model_a,model_b``) print the same number; where the
baseline is B in the file the ranking shows 100 minus the pair's score of B.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import numpy as np

from ..errors import InputError
from .bradley_terry import BASE, elo, finite, interval, single_threaded, strengths
from .codes import ABSENT, FAILED

LABELS5 = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
CODE5 = {label: code for code, label in enumerate(LABELS5)}
DIRECTION = ("A", "A", "tie", "B", "B")  # the order's verdict each label implies
B_SCORE = np.array([0.0, 0.0, 0.5, 1.0, 1.0])
STRONG_WEIGHT = 3  # Arena-Hard's --weight
WEIGHT = np.array([STRONG_WEIGHT, 1, 1, 1, STRONG_WEIGHT])
ROUNDS = 100
TIE_CODE = CODE5["A=B"]
ARENAHARD_KEYS = ("arenahard_labels", "arenahard_games", "arenahard_battles",
                  "arenahard_score", "arenahard_score_ci", "arenahard_baseline",
                  "arenahard_ranking")
PAIR_KEYS = ARENAHARD_KEYS[:5]  # B against A; the others need three models or more
FIELD = "label5"


def _has_label(orders: Any) -> bool:
    return type(orders) is list and any(type(e) is dict and e.get(FIELD) is not None
                                        for e in orders)


class Label5Columns:
    """Each item's two games (orders AB and BA) as label codes, and its models' codes, kept
    only in files with a label5 (10 bytes an item there; elsewhere only for failed items,
    which may precede the first label)."""

    def __init__(self, file: str, orders_field: str) -> None:
        self.file, self.orders_field = file, orders_field
        self.codes: array[int] = array("b")
        self.models: array[int] = array("i")
        self.names: dict[str, int] = {}
        self.first_line = 0  # the first line with a label5
        self.first_missing = 0  # a judged item's line without one, before the first

    def add(self, orders: Any, record: dict[str, Any], failed: bool, line: int) -> None:
        if not self.first_line:
            if not _has_label(orders):
                if not failed:
                    self.first_missing = self.first_missing or line
                    return
            else:
                self.first_line = line
        ab = ba = ABSENT
        if type(orders) is list:
            for k, entry in enumerate(orders):
                if type(entry) is dict:
                    code = self._code(entry, line, k)
                    if entry.get("order") == "AB":
                        ab = code
                    else:
                        ba = code
        if ab == ABSENT and ba == ABSENT:
            if not failed:
                raise InputError(f"no order with a {FIELD}, while line {self.first_line} "
                                 "has one", file=self.file, line=line,
                                 field=self.orders_field)
            ab = FAILED
        self.codes.extend((ab, ba))
        for key in ("model_a", "model_b"):
            name = record.get(key)
            self.models.append(self.names.setdefault(name, len(self.names))
                               if type(name) is str else -1)

    def _code(self, entry: dict[str, Any], line: int, k: int) -> int:
        label = entry.get(FIELD)
        field = f"{self.orders_field}[{k}].{FIELD}"
        verdict = entry.get("verdict")
        if label is None:
            if self.first_line and verdict is not None and entry.get("error") is None:
                raise InputError(f"missing, while line {self.first_line} has one (Arena-Hard "
                                 "figures need one per judged order)", file=self.file,
                                 line=line, field=field)
            return FAILED
        code = CODE5.get(label) if type(label) is str else None
        if code is None:
            raise InputError(f"expected one of {', '.join(LABELS5)} or null, got {label!r}",
                             file=self.file, line=line, field=field)
        if entry.get("error") is not None:
            return FAILED
        if verdict != DIRECTION[code]:
            raise InputError(f"{label!r} disagrees with the order's verdict {verdict!r} "
                             "(label5 is in the original A/B terms, as verdict is)",
                             file=self.file, line=line, field=field)
        return code

    def finish(self) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
        if not self.first_line:
            return None, None, []
        if self.first_missing:
            raise InputError(f"missing, while line {self.first_line} has one (Arena-Hard "
                             "figures need one per judged order)", file=self.file,
                             line=self.first_missing, field=f"{self.orders_field}[].{FIELD}")
        return (np.frombuffer(self.codes, dtype=np.int8).reshape(-1, 2),
                np.frombuffer(self.models, dtype=np.int32).reshape(-1, 2), list(self.names))


def counted(codes: np.ndarray, errors: str) -> np.ndarray:
    """The items' games as ``--errors`` counts them for v2.0's score (rows: items; ABSENT:
    not judged): an item with a failed game is left out."""
    failed = codes == FAILED
    if errors == "tie":
        return np.where(failed, TIE_CODE, codes).astype(np.int8)
    return codes[~failed.any(axis=1)]


def v01_battles(codes: np.ndarray, errors: str) -> np.ndarray:
    """The items' games as v0.1 turns them into battles (rows: every item): a failed game
    gives none (ABSENT), and the item's other game still counts."""
    fill = TIE_CODE if errors == "tie" else ABSENT
    return np.where(codes == FAILED, fill, codes).astype(np.int8)


def v2_score(battles: np.ndarray, rng: np.random.Generator, rounds: int,
             ) -> tuple[float | None, list[float] | None]:
    """Arena-Hard v2.0's score (%) and 90% interval from the battle counts of the scores
    0, 0.5 and 1."""
    n = int(battles.sum())
    if not n:
        return None, None
    means = rng.multinomial(n, battles / n, size=rounds) @ np.array([0.0, 0.5, 1.0]) / n
    low, high = np.quantile(means, [0.05, 0.95])
    return float(means.mean() * 100), [float(low * 100), float(high * 100)]


def _battle_counts(codes: np.ndarray) -> np.ndarray:
    """B's battles scoring 0, 0.5 and 1, from label codes."""
    per = np.bincount(codes, minlength=5) * WEIGHT
    return np.array([per[0] + per[1], per[2], per[3] + per[4]])


def arenahard_figures(codes: np.ndarray, models: np.ndarray | None, names: list[str],
                      lines: np.ndarray, *, file: str, errors: str, baseline: str | None, seed: int,
                      rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(ARENAHARD_KEYS)
    keep = ~(codes == FAILED).any(axis=1) if errors != "tie" else np.ones(len(codes), bool)
    games = counted(codes, errors)
    played = games[games >= 0]
    out["arenahard_labels"] = dict(zip(LABELS5, np.bincount(played, minlength=5).tolist(),
                                       strict=True))
    out["arenahard_games"] = int(len(played))
    battles = _battle_counts(played)
    out["arenahard_battles"] = int(battles.sum())
    out["arenahard_score"], out["arenahard_score_ci"] = \
        v2_score(battles, np.random.default_rng(seed), rounds)
    if models is not None:
        out.update(_ranking(v01_battles(codes, errors), models, games, models[keep], names,
                            lines, file, baseline, seed, rounds))
    return out


def _baseline(models: np.ndarray, names: list[str], baseline: str | None) -> int | None:
    """The baseline's code: the one given, or the one model in every item."""
    if baseline is not None:
        code = names.index(baseline) if baseline in names else -1
        return code if code >= 0 and np.any(models == code) else None
    every = np.flatnonzero(np.all((models[:, :1] == np.arange(len(names))) |
                                  (models[:, 1:] == np.arange(len(names))), axis=0))
    return int(every[0]) if len(every) == 1 else None


def _ranking(games: np.ndarray, models: np.ndarray, v2_games: np.ndarray,
             v2_models: np.ndarray, names: list[str], lines: np.ndarray, file: str,
             baseline: str | None, seed: int, rounds: int) -> dict[str, Any]:
    """v0.1's ranking from ``games`` (v0.1's battles of every item, ``models``' pairs), each
    model's v2.0 score from ``v2_games`` (the items v2.0 keeps, ``v2_models``)."""
    if not len(models) or np.all(models < 0):
        return {}
    missing = np.flatnonzero((models < 0).any(axis=1))
    if len(missing):
        raise InputError("missing model_a or model_b (a ranking needs both on every "
                         "item, or on none)", file=file, line=int(lines[missing[0]]))
    present = np.unique(models)
    if len(present) < 3:
        return {}  # two models: arenahard_score says it all
    anchor = _baseline(models, names, baseline)
    if anchor is None:
        return {}
    # One row per (model_a, model_b, label) with its number of games; a cell's battles are
    # its games times the label's weight.
    a, b = np.repeat(models[:, 0], 2), np.repeat(models[:, 1], 2)
    code = games.ravel()
    real = (code >= 0) & (a != b)
    m = len(names)
    key = (a[real].astype(np.int64) * m + b[real]) * 5 + code[real]
    cells, games_per = np.unique(key, return_counts=True)
    ci, cj, cc = cells // 5 // m, cells // 5 % m, cells % 5
    battles = games_per * WEIGHT[cc]
    share = 1.0 - B_SCORE[cc]  # model_a's share
    rng = np.random.default_rng(seed)
    with single_threaded():
        point = elo(strengths(m, ci, cj, share, battles.astype(float), anchor))
        total = int(battles.sum())
        draws = np.array([elo(strengths(m, ci, cj, share, c.astype(float), anchor))
                          for c in rng.multinomial(total, battles / total, size=rounds)])
    rows = []
    for model in present.tolist():
        involved = (ci == model) | (cj == model)
        row: dict[str, Any] = {"model": names[model], "battles": int(battles[involved].sum())}
        if model == anchor:
            row.update(score=50.0, score_ci=[50.0, 50.0])
        else:
            row["score"], row["score_ci"] = _pair_score(v2_games, v2_models, model, anchor,
                                                        seed, rounds)
        bounds = interval(draws[:, model])
        row.update(rating=finite(point[model]),
                   rating_ci=None if bounds is None else [finite(v) for v in bounds],
                   win_rate=_win_rate(point[model]),
                   win_rate_ci=None if bounds is None else [_win_rate(v) for v in bounds],
                   _order=point[model])
        rows.append(row)
    rows.sort(key=lambda r: -r["_order"] if not math.isnan(r["_order"]) else math.inf)
    for rank, row in enumerate(rows, start=1):
        del row["_order"]
        row["rank"] = rank
    return {"arenahard_baseline": names[anchor], "arenahard_ranking": rows}


def _pair_score(games: np.ndarray, models: np.ndarray, model: int, anchor: int, seed: int,
                rounds: int) -> tuple[float | None, list[float] | None]:
    """``model``'s v2.0 score against the baseline, as the pair's own figures give it (the
    same battles, the same seeded bootstrap): from the items where the baseline is A, or,
    where it is B in every item, 100 minus the baseline's score as B."""
    as_b = (models[:, 0] == anchor) & (models[:, 1] == model)
    as_a = (models[:, 0] == model) & (models[:, 1] == anchor)
    played_b, played_a = games[as_b], games[as_a]
    counts_b = _battle_counts(played_b[played_b >= 0])
    counts_a = _battle_counts(played_a[played_a >= 0])  # the baseline's, as B
    rng = np.random.default_rng(seed)
    if counts_b.sum() or not counts_a.sum():
        return v2_score(counts_b + counts_a[::-1], rng, rounds)
    score, ci = v2_score(counts_a, rng, rounds)
    assert score is not None and ci is not None
    return 100.0 - score, [100.0 - ci[1], 100.0 - ci[0]]


def _win_rate(rating: float) -> float | None:
    """The win rate (%) against the baseline (rated 1000) that a rating predicts."""
    if math.isnan(rating):
        return None
    return 100.0 / (1.0 + 10.0 ** ((BASE - rating) / 400.0)) if math.isfinite(rating) \
        else (100.0 if rating > 0 else 0.0)
