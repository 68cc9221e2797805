"""The terminal summary of ``judgecli compare``."""

from __future__ import annotations

import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from . import CompareResult


def _f(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_is(value: Any) -> str:
    """``p = 0.034`` or ``p < 0.001``, for a sentence."""
    text = _p(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _ci(value: Any) -> str:
    return "-" if not value else f"[{value[0]:.2f}, {value[1]:.2f}]"


def verdict_sentence(pair: dict[str, Any]) -> str:
    a, b, rate = pair["model_a"], pair["model_b"], pair.get("win_rate")
    if rate is None:
        return f"{b} vs {a}: no verdicts to compare"
    if not pair.get("significant"):
        return (f"{b} vs {a}: no significant difference (win rate of {b} {rate:.2f}, "
                f"sign test {_p_is(pair.get('sign_test_p'))})")
    better, worse = (b, a) if rate > 0.5 else (a, b)
    return (f"{better} is better than {worse}: win rate of {b} {rate:.2f} "
            f"{_ci(pair.get('win_rate_ci'))}, sign test {_p_is(pair.get('sign_test_p'))}")


def judged_by(result: CompareResult) -> str:
    """Who judged: "judge J, template T"."""
    return f"judge {result.judge or '?'}, template {result.template or '?'}"


def alpacaeval_sentence(pair: dict[str, Any]) -> str:
    """AlpacaEval's figures of B against A, in percent as on its leaderboard."""
    line = (f"AlpacaEval, {pair['model_b']} vs {pair['model_a']}: win rate "
            f"{_f(pair['alpacaeval_win_rate'])} (SE {_f(pair.get('alpacaeval_standard_error'))})"
            f", discrete {_f(pair.get('alpacaeval_discrete_win_rate'))}")
    if pair.get("alpacaeval_lc_win_rate") is not None:
        line += (f", length-controlled {_f(pair['alpacaeval_lc_win_rate'])} "
                 f"(SE {_f(pair.get('alpacaeval_lc_standard_error'))})")
    elif pair.get("alpacaeval_lc_win_rate_approx") is not None:
        from ..report.render import APPROX_LC

        line += (f", {APPROX_LC} {_f(pair['alpacaeval_lc_win_rate_approx'])} "
                 f"({pair['alpacaeval_lc_terms']})")
    return line


def arenahard_sentence(pair: dict[str, Any]) -> str:
    """Arena-Hard's score of B against A (A its baseline), in percent as on its leaderboard."""
    labels = pair.get("arenahard_labels") or {}
    return (f"Arena-Hard, {pair['model_b']} vs {pair['model_a']}: score "
            f"{_f(pair['arenahard_score'])} (90% CI {_ci(pair.get('arenahard_score_ci'))}: "
            "bootstrap percentiles, as Arena-Hard) "
            f"from {pair.get('arenahard_games')} games, "
            f"{labels.get('A>>B', 0) + labels.get('B>>A', 0)} strong (3 battles each)")


def render(result: CompareResult, console: Console | None = None) -> None:
    # Piped output has no terminal width; rich would squeeze the table into 80 columns.
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    console.print(f"judgecli compare: {result.n_prompts} prompts, {len(result.models)} "
                  f"models; {judged_by(result)}", highlight=False)
    from ..report.render import BOOTSTRAP_CI

    console.print("Rows: model B vs model A; W/T/L and the win rate are B's (ties count "
                  "half); cons.: both orders agree; " + BOOTSTRAP_CI, highlight=False)
    table = Table(box=box.SIMPLE, pad_edge=False)
    for name in ("B vs A", "W/T/L", "win rate of B", "95% CI", "sign p", "cons.",
                 "longer wins", "errors"):
        table.add_column(name, justify="left" if name == "B vs A" else "right",
                         no_wrap=name != "B vs A", min_width=16 if name == "B vs A" else None)
    for pair in result.pairs:
        rows = [(f"{pair['model_b']} vs {pair['model_a']}", pair)]
        rows += [(f"  {c['category']}", c) for c in pair.get("categories", [])]
        for label, fig in rows:
            table.add_row(label, f"{fig.get('wins', '-')}/{fig.get('ties', '-')}/"
                                 f"{fig.get('losses', '-')}",
                          _f(fig.get("win_rate")), _ci(fig.get("win_rate_ci")),
                          _p(fig.get("sign_test_p")), _f(fig.get("consistency")),
                          _f(fig.get("longer_wins")), _f(fig.get("error_rate")))
    console.print(table)
    for pair in result.pairs:
        console.print(verdict_sentence(pair))
    for pair in result.pairs:
        if pair.get("alpacaeval_win_rate") is not None:
            console.print(alpacaeval_sentence(pair), highlight=False)
    for pair in result.pairs:
        if pair.get("arenahard_score") is not None:
            console.print(arenahard_sentence(pair), highlight=False)
    if result.arenahard_ranking:
        from ..report.render import arenahard_table

        console.print(arenahard_table(result.arenahard_ranking, result.models[0],
                                      "all pairs"))
    if result.ranking and not result.arenahard_ranking:  # that one is the finer (--json: both)
        ranking = Table(title="Bradley-Terry ranking (Elo scale; 95% CI: percentile "
                                     "bootstrap over prompts)",
                        title_justify="left", box=box.SIMPLE, pad_edge=False)
        for name in ("rank", "model", "rating", "95% CI"):
            ranking.add_column(name, justify="left" if name == "model" else "right")
        for row in result.ranking:
            ci = row["rating_ci"]
            ranking.add_row(str(row["rank"]), row["model"], _f(row["rating"], 0),
                            "-" if not ci else f"[{_f(ci[0], 0)}, {_f(ci[1], 0)}]")
        console.print(ranking)
    if result.style_control:
        from ..report.render import print_style

        print_style(result.style_control, "all pairs", console)
