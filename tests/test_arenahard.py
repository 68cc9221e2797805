"""Arena-Hard's score and ranking (report/arenahard.py, report/bradley_terry.py).

Expected values are computed here from a re-statement of lmarena/arena-hard-auto's code, not
from judgecli: battles as ``show_result.py`` makes them (v2.0 ``load_judgments``'s
``label_to_score`` with weight 3, v0.1 ``get_battles_from_row``), the v2.0 score as the mean
of the battle scores and its bootstrap by resampling battle rows, and the Bradley-Terry
ratings of ``compute_mle_elo`` by scipy.optimize on the likelihood of the battle rows, with
its bootstrap by resampling battle rows (``get_bootstrap_result``).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_jsonl
from scipy.optimize import minimize
from scipy.special import expit

from judgecli.errors import InputError, JudgecliError
from judgecli.report import ReportOptions, build_report
from judgecli.report.bradley_terry import strengths

LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
SWAP = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
DIRECTION = {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B", "B>>A": "B"}
# Arena-Hard v2.0 show_result.py load_judgments, weight=3: the scores of the answer shown first
LABEL_TO_SCORE = {"A>B": [1], "A>>B": [1] * 3, "A=B": [0.5], "B>A": [0], "B>>A": [0] * 3}


def game(raw: str | None, order: str) -> dict[str, Any]:
    """One order as judgecli records it: the judge's raw label (positions as shown) turned
    into the original A/B terms (order BA showed B first)."""
    if raw is None:
        return {"order": order, "verdict": None, "label5": None, "error": "unparseable"}
    label = raw if order == "AB" else SWAP[raw]
    return {"order": order, "verdict": DIRECTION[label], "label5": label, "error": None}


def record(key: str, a: str, b: str, first: str | None, second: str | None,
           ) -> dict[str, Any]:
    """``first``: the raw label with a shown first, ``second`` with b shown first (Arena-Hard's
    games[0] and games[1] when a is the baseline)."""
    orders = [game(first, "AB"), game(second, "BA")]
    verdicts = {o["verdict"] for o in orders}
    verdict = None if None in verdicts else verdicts.pop() if len(verdicts) == 1 else "tie"
    return {"id": f"{key}|{a}|{b}", "model_a": a, "model_b": b, "question": "q",
            "answer_a": "x", "answer_b": "y",
            "judgment": {"verdict": verdict, "orders": orders,
                         "error": None if verdict else "an order failed"}}


def battles(rows: list[dict[str, Any]], raw: list[tuple[str | None, str | None]],
            ) -> list[tuple[str, str, float]]:
    """Arena-Hard v0.1 get_battles_from_row with baseline_model = model_a, model = model_b:
    (model_a, model_b, model_a's outcome), a strong verdict three times; a null game none."""
    out = []
    for r, (first, second) in zip(rows, raw, strict=True):
        for score, swapped in ((first, False), (second, True)):
            if score is None:
                continue
            weight = 3 if ">>" in score else 1
            winner = "tie" if score == "A=B" else ("a" if score.startswith("A") else "b")
            if swapped and winner != "tie":
                winner = "b" if winner == "a" else "a"
            outcome = {"a": 1.0, "b": 0.0, "tie": 0.5}[winner]
            out += [(r["model_a"], r["model_b"], outcome)] * weight
    return out


def v2_scores(first: str, second: str) -> list[float]:
    """v2.0: the model's battle scores from one judgment (games[0] shows the baseline first)."""
    return LABEL_TO_SCORE[second] + [1 - s for s in LABEL_TO_SCORE[first]]


def mle_elo(rows: list[tuple[str, str, float]], models: list[str], baseline: str,
            times: np.ndarray | None = None) -> dict[str, float]:
    """compute_mle_elo, re-stated: maximise the Bradley-Terry likelihood of the battle rows
    (a tie half a win each way; row k counted ``times[k]`` times) with scipy; 400 per factor
    of 10; the baseline at 1000."""
    index = {m: k for k, m in enumerate(models)}
    i = np.array([index[a] for a, _, _ in rows])
    j = np.array([index[b] for _, b, _ in rows])
    y = np.array([o for _, _, o in rows])
    w = np.ones(len(rows)) if times is None else times
    free = [k for k in range(len(models)) if models[k] != baseline]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta = np.zeros(len(models))
        beta[free] = theta
        z = beta[i] - beta[j]
        value = np.sum(w * (y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))
        r = w * (expit(z) - y)
        grad = np.bincount(i, r, len(models)) - np.bincount(j, r, len(models))
        return float(value), grad[free]

    fit = minimize(nll, np.zeros(len(free)), jac=True, method="BFGS",
                   options={"gtol": 1e-9, "maxiter": 10_000})
    beta = np.zeros(len(models))
    beta[free] = fit.x
    return {m: 1000 + 400 * beta[k] / math.log(10) for m, k in index.items()}


def win_rate(rating: float) -> float:
    """get_win_rate_column: the predicted win rate (%) against the baseline at 1000."""
    return 100 / (1 + 10 ** ((1000 - rating) / 400))


def synthetic(rng: np.random.Generator, models: list[str], skill: dict[str, float],
              n: int, pairs: list[tuple[str, str]] | None = None,
              ) -> tuple[list[dict[str, Any]], list[tuple[str | None, str | None]]]:
    """Judgments of every pair (or ``pairs``), n prompts each; the judge's raw labels come
    from the skill difference plus noise and a first-position bias."""
    rows, raw = [], []
    for a, b in pairs or list(itertools.combinations(models, 2)):
        for q in range(n):
            labels = []
            for first, second in ((a, b), (b, a)):
                d = skill[first] - skill[second] + 0.2 + rng.normal(0, 1)
                labels.append(LABELS[4 - int(np.searchsorted([-1.2, -0.3, 0.3, 1.2], d))])
            rows.append(record(str(q), a, b, labels[0], labels[1]))
            raw.append((labels[0], labels[1]))
    return rows, raw


def report(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    (summary,) = build_report([str(write_jsonl(tmp_path / "judged.jsonl", rows))],
                              ReportOptions(**options))
    json.dumps(summary, allow_nan=False)  # --json must be able to print it
    return summary


def by_model(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["model"]: row for row in summary["arenahard_ranking"]}


MODELS = ["base", "m1", "m2", "m3"]
SKILL = {"base": 0.0, "m1": 0.9, "m2": -0.6, "m3": 0.3}


def test_point_figures_equal_arena_hards_on_a_synthetic_battle_set(tmp_path: Path) -> None:
    rows, raw = synthetic(np.random.default_rng(7), MODELS, SKILL, 40)
    rounds = 200
    out = report(tmp_path, rows, baseline="base", rounds=rounds)
    want = mle_elo(battles(rows, raw), MODELS, "base")
    assert out["arenahard_baseline"] == "base"
    assert [r["model"] for r in out["arenahard_ranking"]] == sorted(MODELS, key=lambda m: -want[m])
    for model, row in by_model(out).items():
        assert row["rating"] == pytest.approx(want[model], abs=1e-3)
        assert row["win_rate"] == pytest.approx(win_rate(want[model]), abs=1e-4)
        # v2.0: the mean of the model's battle scores against the baseline (its own games)
        scores = [s for r, (f, s2) in zip(rows, raw, strict=True)
                  if r["model_a"] == "base" and r["model_b"] == model
                  for s in v2_scores(f, s2)] if model != "base" else [0.5]
        # Arena-Hard's score is the mean of its bootstrap means: within 4 standard errors
        error = 100 * np.std(scores) / math.sqrt(len(scores) * rounds)
        assert row["score"] == pytest.approx(100 * np.mean(scores), abs=4 * error + 1e-9)
        assert row["battles"] == sum(1 for a, b, _ in battles(rows, raw) if model in (a, b))
    counts = {label: sum(f == label for f, _ in raw) + sum(SWAP[s] == label for _, s in raw)
              for label in LABELS}
    assert out["arenahard_labels"] == counts
    assert out["arenahard_games"] == 2 * len(rows)
    assert out["arenahard_battles"] == len(battles(rows, raw))


def test_bootstrap_intervals_match_arena_hards_resampling(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for model in MODELS[1:]:
        rows, raw = synthetic(rng, MODELS, SKILL, 50, pairs=[("base", model)])
        out = report(tmp_path, rows, rounds=4000)
        # v2.0 print_leaderboard: battles of the model resampled with replacement, 5% / 95%
        scores = np.array([s for f, s2 in raw for s in v2_scores(f, s2)])
        means = scores[rng.integers(0, len(scores), (4000, len(scores)))].mean(axis=1) * 100
        low, high = np.quantile(means, [0.05, 0.95])
        assert out["arenahard_score_ci"] == pytest.approx([low, high], abs=0.6)
        assert out["arenahard_score"] == pytest.approx(means.mean(), abs=0.2)
    # get_bootstrap_result: every battle row resampled, compute_mle_elo on each, 2.5 / 97.5
    rows_all, raw_all = synthetic(rng, MODELS, SKILL, 25)
    out = by_model(report(tmp_path, rows_all, baseline="base", rounds=200, seed=1))
    battle_rows = battles(rows_all, raw_all)
    draws = np.array([list(mle_elo(battle_rows, MODELS, "base",
                                   np.bincount(pick, minlength=len(battle_rows))).values())
                      for pick in rng.integers(0, len(battle_rows), (200, len(battle_rows)))])
    for k, model in enumerate(MODELS[1:], start=1):
        low, high = np.percentile(draws[:, k], [2.5, 97.5])
        spread = draws[:, k].std()
        got = out[model]["rating_ci"]
        assert abs(got[0] - low) < 0.8 * spread and abs(got[1] - high) < 0.8 * spread
        assert out[model]["win_rate_ci"] == pytest.approx([win_rate(v) for v in got])
    assert out["base"]["rating_ci"] == [1000.0, 1000.0]


def test_the_bootstrap_is_seeded_and_its_rounds_an_option(tmp_path: Path) -> None:
    rows, _ = synthetic(np.random.default_rng(1), MODELS, SKILL, 10)
    one = report(tmp_path, rows, baseline="base", rounds=30)
    assert report(tmp_path, rows, baseline="base", rounds=30) == one
    other = report(tmp_path, rows, baseline="base", rounds=30, seed=5)
    assert other["arenahard_ranking"] != one["arenahard_ranking"]
    assert [g["arenahard_score"] for g in other["groups"]] != \
        [g["arenahard_score"] for g in one["groups"]]
    with pytest.raises(JudgecliError, match="--rounds must be at least 1"):
        report(tmp_path, rows, rounds=0)


def test_ties_only(tmp_path: Path) -> None:
    rows = [record(str(q), "base", m, "A=B", "A=B") for m in MODELS[1:] for q in range(5)]
    out = report(tmp_path, rows, rounds=50)
    assert out["arenahard_baseline"] == "base"  # the one model in every record
    assert out["arenahard_labels"] == {"A>>B": 0, "A>B": 0, "A=B": 30, "B>A": 0, "B>>A": 0}
    # a file of several model pairs: the score is per pair, none pooled over them
    assert out["arenahard_score"] is None and out["n_model_pairs"] == 3
    for group in out["groups"]:
        assert group["arenahard_score"] == 50.0 and group["arenahard_score_ci"] == [50.0, 50.0]
    for row in out["arenahard_ranking"]:
        assert row["rating"] == pytest.approx(1000, abs=1e-6)
        assert row["win_rate"] == pytest.approx(50, abs=1e-6)
        assert row["score"] == 50.0 and row["battles"] == (30 if row["model"] == "base" else 10)


def test_only_strong_wins(tmp_path: Path) -> None:
    # Two models: B strongly better in both orders; each game is three battles.
    rows = [record(str(q), "base", "m1", "B>>A", "A>>B") for q in range(6)]
    out = report(tmp_path, rows, rounds=50)
    assert out["arenahard_labels"]["B>>A"] == 12 and out["arenahard_battles"] == 36
    assert out["arenahard_score"] == 100.0 and out["arenahard_score_ci"] == [100.0, 100.0]
    assert out["arenahard_ranking"] is None  # two models: the score says it
    # m1 wins every battle, strongly: its rating has no finite maximum; the others' are their
    # own fit, as if m1 were not there.
    rng = np.random.default_rng(4)
    rows, raw = synthetic(rng, ["base", "m2", "m3"], SKILL, 20)
    rows += [record(str(q), a, "m1", "B>>A", "A>>B") for a in ("base", "m2", "m3")
             for q in range(4)]
    out = by_model(report(tmp_path, rows, baseline="base", rounds=60))
    assert out["m1"]["rating"] is None and out["m1"]["win_rate"] == 100.0
    assert out["m1"]["win_rate_ci"] == [100.0, 100.0] and out["m1"]["score"] == 100.0
    assert out["m1"]["rank"] == 1
    want = mle_elo(battles(rows[:len(raw)], raw), ["base", "m2", "m3"], "base")
    for model in ("m2", "m3"):
        assert out[model]["rating"] == pytest.approx(want[model], abs=1e-3)


def test_a_model_that_never_wins(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows, raw = synthetic(rng, ["base", "m1", "m2"], SKILL, 20)
    rows += [record(str(q), "m3", b, "B>A", "A>B") for b in ("base", "m1", "m2")
             for q in range(4)]
    out = by_model(report(tmp_path, rows, baseline="base", rounds=60))
    assert out["m3"]["rating"] is None and out["m3"]["win_rate"] == 0.0
    assert out["m3"]["win_rate_ci"] == [0.0, 0.0] and out["m3"]["rating_ci"] == [None, None]
    assert out["m3"]["score"] == 0.0 and out["m3"]["rank"] == 4
    want = mle_elo(battles(rows[:len(raw)], raw), ["base", "m1", "m2"], "base")
    for model in ("m1", "m2"):
        assert out[model]["rating"] == pytest.approx(want[model], abs=1e-3)


def test_strengths_where_the_likelihood_has_no_maximum() -> None:
    # 0 and 1 beat each other, 2 beats 1 only, 3 and 4 play only each other (a tie).
    i, j = np.array([0, 1, 2, 3]), np.array([1, 0, 1, 4])
    share, count = np.array([1.0, 1.0, 1.0, 0.5]), np.ones(4)
    s = strengths(5, i, j, share, count, anchor=0)
    assert s[0] == 0 and s[1] == pytest.approx(0, abs=1e-6) and s[2] == np.inf
    assert np.isnan(s[3]) and np.isnan(s[4])
    assert strengths(5, i, j, share, count)[[0, 1]] == pytest.approx([0, 0], abs=1e-6)
    assert np.isnan(strengths(5, i, j, share, count, anchor=0)[3])


def test_failed_games_follow_errors(tmp_path: Path) -> None:
    rows = [record("1", "base", "m1", "B>A", "A>B"), record("2", "base", "m1", "B>>A", None),
            record("3", "base", "m1", "A>B", "B>A")]
    wrong = report(tmp_path, rows, rounds=20)
    # v2.0 leaves out a judgment with a null game: item 2's both games
    assert wrong["arenahard_games"] == 4 and wrong["arenahard_battles"] == 4
    assert wrong["arenahard_labels"]["B>>A"] == 0
    tie = report(tmp_path, rows, rounds=20, errors="tie")
    assert tie["arenahard_games"] == 6 and tie["arenahard_battles"] == 8
    assert tie["arenahard_labels"]["A=B"] == 1 and tie["arenahard_labels"]["B>>A"] == 1
    drop = report(tmp_path, rows, rounds=20, errors="drop")
    assert drop["arenahard_games"] == 4


def test_one_order_counts_one_game(tmp_path: Path) -> None:
    rows = [record(str(q), "base", "m1", "B>A", None) for q in range(3)]
    for r in rows:
        r["judgment"] = {"verdict": "B", "orders": r["judgment"]["orders"][:1], "error": None}
    out = report(tmp_path, rows, rounds=20)
    assert out["arenahard_games"] == 3 and out["arenahard_score"] == 100.0


def test_bad_records_are_named(tmp_path: Path) -> None:
    good = record("1", "base", "m1", "B>A", "A>B")
    bad = json.loads(json.dumps(good))
    bad["judgment"]["orders"][1]["label5"] = "A>B"  # presented terms, not the original's
    with pytest.raises(InputError, match=r":2: field 'judgment.orders\[1\].label5': "
                                         r"'A>B' disagrees with the order's verdict 'B'"):
        report(tmp_path, [good, bad])
    bad["judgment"]["orders"][1]["label5"] = "A>>>B"
    with pytest.raises(InputError, match="expected one of A>>B, A>B, A=B, B>A, B>>A or null"):
        report(tmp_path, [good, bad])
    del bad["judgment"]["orders"][1]["label5"]
    with pytest.raises(InputError, match=r":2: field 'judgment.orders\[1\].label5': missing"):
        report(tmp_path, [good, bad])
    unlabelled = json.loads(json.dumps(bad))
    del unlabelled["judgment"]["orders"][0]["label5"]
    unlabelled["id"] = "0"
    with pytest.raises(InputError, match=r":1: field 'judgment.orders\[\].label5': missing, "
                                         "while line 2 has one"):
        report(tmp_path, [unlabelled, good])
    three = [record("1", "base", m, "B>A", "A>B") for m in ("m1", "m2")]
    three.append({**record("2", "base", "m1", "A>B", "B>A"), "model_b": None})
    with pytest.raises(InputError, match=":3: missing model_a or model_b"):
        report(tmp_path, three, baseline="base")
    with pytest.raises(JudgecliError, match="--baseline gpt: not a model of .* base, m1"):
        report(tmp_path, [good], baseline="gpt")


def test_no_ranking_without_a_baseline_and_none_for_two_models(tmp_path: Path) -> None:
    rows, _ = synthetic(np.random.default_rng(2), MODELS, SKILL, 3)
    out = report(tmp_path, rows, rounds=10)  # every pair: no model is in every record
    assert out["arenahard_ranking"] is None and out["arenahard_baseline"] is None
    assert out["arenahard_score"] is None  # six model pairs: per pair only
    assert all(g["arenahard_score"] is not None for g in out["groups"])
    plain = [{k: v for k, v in r.items() if k not in ("model_a", "model_b")} for r in rows]
    pooled = report(tmp_path, plain, baseline=None, rounds=10)
    assert pooled["arenahard_ranking"] is None and pooled["arenahard_score"] is not None
