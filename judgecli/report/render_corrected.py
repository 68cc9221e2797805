"""The judge-corrected figures (``corrected``) as terminal tables, each interval with what it
means; ``render`` prints them after its own tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Fewer labels than this: the normal approximation may cover less than its level (LLMBar,
# 25 of 419 labelled: 93.6% for 95%; bench/ppi_coverage.py).
FEW = 30
FIGURES = {"win_rate": "win rate of A (ties half)", "pass_rate": "pass rate",
           "mean_score": "mean grade"}


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _ci(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"


def _parts(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(where, corrected) of every file and group that has corrected figures."""
    out = []
    for summary in summaries:
        for part in (summary, *(summary.get("groups") or [])):
            if part.get("corrected"):
                where = summary["file"] + (f", {part['group']}" if part.get("group") else "")
                out.append((where, part["corrected"]))
    return out


def render_corrected(summaries: Sequence[dict[str, Any]], console: Console) -> None:
    parts = _parts(summaries)
    if not parts:
        return
    rows = [(where, key, c) for where, c in parts for key in FIGURES if c.get(key)]
    level = _level(parts[0][1]["alpha"])
    if rows:
        headers = ["file / group", "figure", "labelled", "unlabelled", "judge only",
                   "corrected", f"{level} CI", "labels only", f"{level} CI ", "lambda",
                   "worth (labels)"]
        cells = []
        for where, key, c in rows:
            f = c[key]
            worth = f["effective_labels"]
            few = "*" if f["n_labelled"] < FEW else ""
            cells.append([where, FIGURES[key], f"{f['n_labelled']}{few}", str(f["n_unlabelled"]),
                          f"{f['judge_only']:.3f}", f"{f['estimate']:.3f}", _ci(f["ci"]),
                          f"{f['classical_estimate']:.3f}", _ci(f["classical_ci"]),
                          f"{f['lambda']:.2f}", "-" if worth is None else f"{worth:.0f}"])
        _print_table(console, f"judge-corrected figures (PPI++, {level} CIs)", headers, cells)
    for where, c in parts:
        ratings = c.get("ratings")
        if ratings and ratings.get("models"):
            console.print(_ratings_table(ratings, where, level))
        elif ratings and ratings.get("error"):
            console.print(f"{where}: no judge-corrected Bradley-Terry ratings: "
                          f"{ratings['error']}", highlight=False, markup=False)
    for where, c in parts:
        if c.get("too_few"):
            console.print(f"{where}: no judge-corrected figure: {c['too_few']}",
                          highlight=False, markup=False)
        if c.get("not_random"):
            console.print(f"{where}: no judge-corrected figure: the labelled items are not a "
                          f"random subset: {c['not_random']}", highlight=False, markup=False)
    if rows or any(c.get("ratings") for _, c in parts):
        console.print(meaning(level), highlight=False, markup=False)
    if any(c[key]["n_labelled"] < FEW for _, key, c in rows):
        console.print(f"*: fewer than {FEW} labelled items: the normal approximation may "
                      f"cover less often than {level}.", highlight=False, markup=False)


def _print_table(console: Console, title: str, headers: list[str],
                 cells: list[list[str]]) -> None:
    """One row per line where it fits the terminal; else each row as its own table of
    (column, value) lines, so that no cell is squeezed to "0…"."""
    width = 1 + sum(max(len(h), *(len(row[i]) for row in cells)) + 3
                    for i, h in enumerate(headers))
    if width <= console.width:
        table = Table(title=title, title_justify="left")
        for i, name in enumerate(headers):
            table.add_column(name, justify="left" if i < 2 else "right", no_wrap=True)
        for row in cells:
            table.add_row(*row)
        console.print(table)
        return
    console.print(title, highlight=False, markup=False)
    for row in cells:
        console.print(f"{row[0]}: {row[1]}", highlight=False, markup=False)
        table = Table()
        table.add_column("column", no_wrap=True)
        table.add_column("value", justify="right", no_wrap=True)
        for name, value in zip(headers[2:], row[2:]):
            table.add_row(name.strip(), value)
        console.print(table)


def meaning(level: str) -> str:
    """What the judge-corrected columns and intervals are."""
    return (f"corrected: PPI++ (Angelopoulos, Duchi & Zrnic 2023; as ppi_py's ppi_mean_ci and "
            f"ppi_logistic_ci, power-tuned lambda): its {level} CI is a normal-approximation "
            "interval for the figure (a rating: the Bradley-Terry rating against the anchor) "
            "that people's labels would give over all the items, valid if "
            "the labelled items are a uniform random subset: the labelled items correct the "
            "judge's verdicts on the unlabelled ones (lambda 0: the labels alone; 1: plain "
            "PPI). labels only: the same kind of interval from the labelled items alone. "
            "judge only: the judge's verdicts over every item (a tie or a failed judgment "
            "counts half), no interval. worth: the labels a labels-only interval would need "
            "to be as narrow.")


def _ratings_table(ratings: dict[str, Any], where: str, level: str) -> Table:
    table = Table(title=f"judge-corrected Bradley-Terry ratings, {where} ({ratings['n_labelled']} "
                        f"labelled, {ratings['n_unlabelled']} unlabelled games; "
                        f"{ratings['anchor']} fixed at 1000; lambda {ratings['lambda']:.2f})",
                  title_justify="left")
    for name in ("model", "rating (PPI++)", f"{level} CI (PPI++)", f"{level} CI (labels only)"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for row in ratings["models"]:
        table.add_row(row["model"], f"{row['rating']:.0f}",
                      "anchor" if row["anchor"] else _ci(row["ci"], 0),
                      "anchor" if row["anchor"] else _ci(row["classical_ci"], 0))
    return table
