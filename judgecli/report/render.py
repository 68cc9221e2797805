"""The terminal table (rich). Fractions show as 0.000-1.000, as they are in --json.

One file: a table of every figure that could be computed, then the confusion matrix.
Several files, or ``--by``: one row per file or group, side by side, with the main figures;
``--json`` has all of them. Then, when the files hold two judgments or more (a panel's
members, a review, several files), the judge x template table (``judges``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from .judges import judge_table

# What a win rate's "95% CI" is, wherever a table shows it without saying (compare too).
BOOTSTRAP_CI = ("95% CI: percentile bootstrap over the items of the judge's verdicts (the "
                "judge's own disagreement with people is not in it).")


# The length-controlled win rate without AlpacaEval's df_gamed.csv (report/alpacaeval.py).
APPROX_LC = "LC win rate (approximate: no instruction difficulty)"


def _frac(v: Any) -> str:
    return f"{v:.3f}"


def _p(v: Any) -> str:
    return f"{v:.2g}"


def _ci(v: Any) -> str:
    return f"[{v[0]:.3f}, {v[1]:.3f}]"


def _by_order(v: Any) -> str:
    return "  ".join(f"{k} {x:.3f}" for k, x in v.items() if x is not None)


def _counts(v: Any) -> str:
    return "  ".join(f"{order}: " + ", ".join(f"{k} {x}" for k, x in c.items())
                     for order, c in v.items())


def _pct(v: Any) -> str:
    return f"{v:.2f}"


def _labels5(v: Any) -> str:
    return "  ".join(f"{k} {x}" for k, x in v.items())


def _pct_ci(v: Any) -> str:
    return f"[{v[0]:.2f}, {v[1]:.2f}]"


def _coverage(v: Any) -> str:
    return " ".join(f"{x['accuracy']:.2f}" for x in v) + "  (10% .. 100%)"


# (section, key, label, format)
FIGURES: list[tuple[str, str, str, Callable[[Any], str]]] = [
    ("items", "n", "items", str),
    ("items", "n_unshared", "left out: not in every file", str),
    ("items", "n_labeled", "with a gold label", str),
    ("items", "n_failed", "failed judgments", str),
    ("items", "error_rate", "error rate", _frac),
    ("items", "n_delimiter_answers", "answers holding the template's delimiters", str),
    ("labels", "agreement", "agreement (accuracy)", _frac),
    ("labels", "agreement_without_ties", "agreement without ties (MT-Bench)", _frac),
    ("labels", "precision", "precision (macro)", _frac),
    ("labels", "recall", "recall (macro)", _frac),
    ("labels", "f1", "F1 (macro)", _frac),
    ("labels", "f1_fail", "F1 of fail (fail = positive)", _frac),
    ("labels", "kappa", "Cohen's kappa", _frac),
    ("labels", "agreement_by_order", "agreement by order", _by_order),
    ("labels", "agreement_both_orders", "agreement in both orders (Auto-J)", _frac),
    ("orders", "n_both_orders", "judged in both orders", str),
    ("orders", "consistency", "consistency", _frac),
    ("orders", "prefer_first", "favours the first position", _frac),
    ("orders", "prefer_second", "favours the second position", _frac),
    ("orders", "position_bias", "position bias |first - second|", _frac),
    ("orders", "verdicts_by_order", "verdicts by order", _counts),
    ("wins", "wins", "A wins", str),
    ("wins", "ties", "ties", str),
    ("wins", "losses", "B wins", str),
    ("wins", "win_rate", "win rate of A (ties half)", _frac),
    ("wins", "win_rate_ci", "95% CI (bootstrap)", _ci),
    ("wins", "sign_test_p", "sign test p", _p),
    ("wins", "tie_rate", "tie rate", _frac),
    ("wins", "longer_wins", "longer answer wins", _frac),
    ("wins", "pass_rate", "pass rate", _frac),
    # AlpacaEval's figures are percentages, as on its leaderboard (report/alpacaeval.py).
    ("alpacaeval", "alpacaeval_win_rate", "AlpacaEval win rate of B (%)", _pct),
    ("alpacaeval", "alpacaeval_standard_error", "AlpacaEval standard error (%)", _pct),
    ("alpacaeval", "alpacaeval_discrete_win_rate", "AlpacaEval discrete win rate of B (%)",
     _pct),
    ("alpacaeval", "alpacaeval_n_wins", "B wins (preference > 1.5)", str),
    ("alpacaeval", "alpacaeval_n_wins_base", "A wins (preference < 1.5)", str),
    ("alpacaeval", "alpacaeval_n_draws", "draws (preference = 1.5)", str),
    ("alpacaeval", "alpacaeval_n_total", "items with a preference", str),
    ("alpacaeval", "alpacaeval_lc_win_rate", "AlpacaEval length-controlled win rate of B (%)",
     _pct),
    ("alpacaeval", "alpacaeval_lc_standard_error", "AlpacaEval length-controlled standard "
     "error (%)", _pct),
    ("alpacaeval", "alpacaeval_lc_win_rate_approx", APPROX_LC, _pct),
    ("alpacaeval", "alpacaeval_lc_terms", "length-controlled GLM terms", str),
    # Arena-Hard's figures are percentages too (report/arenahard.py); its ranking is a table.
    ("arenahard", "arenahard_labels", "Arena-Hard verdicts (games, A/B as in the file)",
     _labels5),
    ("arenahard", "arenahard_games", "games with a five-level verdict", str),
    ("arenahard", "arenahard_battles", "battles (A>>B and B>>A count 3)", str),
    ("arenahard", "arenahard_score", "Arena-Hard score of B against A (%)", _pct),
    ("arenahard", "arenahard_score_ci", "90% CI (bootstrap, as Arena-Hard)", _pct_ci),
    ("arenahard", "arenahard_baseline", "Arena-Hard ranking's baseline", str),
    ("grades", "mean_score", "mean score", lambda v: f"{v:.3g}"),
    ("grades", "grade_accuracy", "grade = label (Prometheus's accuracy)", _frac),
    ("grades", "pearson", "Pearson r", _frac),
    ("grades", "pearson_p", "Pearson p", _p),
    ("grades", "spearman", "Spearman rho", _frac),
    ("grades", "spearman_p", "Spearman p", _p),
    ("grades", "kendall", "Kendall tau", _frac),
    ("grades", "kendall_p", "Kendall p", _p),
    ("grades", "mae", "mean absolute error", lambda v: f"{v:.3g}"),
    ("reliability", "n_confidence", "with confidence and label", str),
    ("reliability", "accuracy_at_coverage", "accuracy at coverage", _coverage),
    ("reliability", "auroc", "AUROC (confidence vs correct)", _frac),
    ("reliability", "ece", "ECE (10 bins)", _frac),
    ("panel", "panel_members", "panel members", str),
    ("panel", "panel_alpha", "Krippendorff's alpha (members)", _frac),
    ("panel", "panel_agreement", "member pairs agreeing (mean)", _frac),
    ("panel", "panel_unanimous", "unanimous items", _frac),
    ("review", "n_reviewed", "reviewed", str),
    ("review", "review_changed", "changed by the review", _frac),
    ("review", "agreement_before_review", "agreement before review", _frac),
    ("review", "agreement_after_review", "agreement after review", _frac),
    ("review", "review_fixed", "fixed (wrong -> right)", str),
    ("review", "review_broke", "broken (right -> wrong)", str),
]
# The side-by-side table's columns and their short headings.
SIDE_BY_SIDE = {"n": "n", "error_rate": "errors", "agreement": "agree",
                "agreement_without_ties": "agree w/o ties", "f1": "F1", "kappa": "kappa",
                "f1_fail": "F1 fail", "pass_rate": "pass",
                "consistency": "consist.", "agreement_both_orders": "both orders",
                "position_bias": "pos. bias", "win_rate": "win A", "win_rate_ci": "95% CI",
                "tie_rate": "ties", "longer_wins": "longer wins",
                "alpacaeval_win_rate": "AE win B %", "alpacaeval_lc_win_rate": "AE LC B %",
                "alpacaeval_lc_win_rate_approx": "AE LC approx. B %",
                "arenahard_score": "AH score B %", "mean_score": "mean score",
                "spearman": "Spearman",
                "kendall": "Kendall", "mae": "MAE", "auroc": "AUROC", "ece": "ECE",
                "panel_alpha": "alpha", "agreement_after_review": "after review"}
# The judge x template table's columns.
JUDGE_COLUMNS = {"n": "n", "agreement": "agree", "f1": "F1", "kappa": "kappa",
                 "f1_fail": "F1 fail", "mae": "MAE", "spearman": "Spearman"}
_FORMAT = {key: (label, fmt) for _, key, label, fmt in FIGURES}


def _shown(summary: dict[str, Any], key: str) -> bool:
    value = summary.get(key)
    if value is None or (key == "n_unshared" and not value):
        return False
    return not (key == "n_confidence" and not summary.get("accuracy_at_coverage"))


def render(summaries: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 240)  # a file or a pipe: do not squeeze
    if len(summaries) == 1 and "groups" not in summaries[0]:
        _one(summaries[0], console)
    else:
        _side_by_side(summaries, console)
    _rankings(summaries, console)
    if any(s.get("corrected") or any(g.get("corrected") for g in s.get("groups") or ())
           for s in summaries):
        from .render_corrected import render_corrected

        render_corrected(summaries, console)
    for summary in summaries:
        if summary.get("style_control"):
            print_style(summary["style_control"], summary["file"], console)
    _judges(summaries, console)
    _notes(summaries, console)


def _notes(summaries: Sequence[dict[str, Any]], console: Console) -> None:
    """What a file's figures cannot say by being null (``notes`` in --json)."""
    for summary in summaries:
        where = f"{summary['file']}: " if len(summaries) > 1 else ""
        for note in summary.get("notes") or ():
            console.print(f"note: {where}{note}", highlight=False, markup=False)


def _judged_by(summary: dict[str, Any]) -> str:
    """"; judge J, template T": the file's own judgment's, from its judges rows."""
    own = next((row for row in summary.get("judges") or []
                if row["source"] == "judgment" and row["group"] is None), None)
    return "" if own is None else \
        f"; judge {own['judge'] or '?'}, template {own['template'] or '?'}"


def _one(summary: dict[str, Any], console: Console) -> None:
    console.print(f"{summary['file']} ({summary['kind'] or 'empty'}, "
                  f"--errors {summary['errors']}{_judged_by(summary)})", highlight=False)
    table = Table()
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    section = None
    for name, key, label, fmt in FIGURES:
        if not _shown(summary, key):
            continue
        if section is not None and name != section:
            table.add_section()
        section = name
        table.add_row(label, fmt(summary[key]))
    console.print(table)
    if summary.get("kind") in ("pair", "binary") and not summary.get("n_labeled"):
        console.print("no gold labels: agreement figures need `label` in the records or "
                      "--labels FILE")
    confusion = summary.get("confusion")
    if confusion:
        matrix = Table(title="confusion (rows: gold, columns: judge)", title_justify="left")
        matrix.add_column("")
        for name in confusion["judge"]:
            matrix.add_column(name, justify="right")
        for name, counts in zip(confusion["gold"], confusion["counts"], strict=True):
            matrix.add_row(name, *(str(c) for c in counts))
        console.print(matrix)


def _side_by_side(summaries: Sequence[dict[str, Any]], console: Console) -> None:
    grouped = any("groups" in s for s in summaries)
    rows = []
    for summary in summaries:
        if summary.get("n_model_pairs", 1) < 2:  # else its pairs' rows say it (models.py)
            rows.append((summary["file"], "(all)", summary))
        rows.extend((summary["file"], g["group"], g) for g in summary.get("groups") or [])
    keys = [k for k in SIDE_BY_SIDE if any(_shown(s, k) for _, _, s in rows)]
    labels = [([file] if len(summaries) > 1 else []) + ([group] if grouped else [])
              for file, group, _ in rows]
    label_names = (["file"] if len(summaries) > 1 else []) + (["group"] if grouped else [])
    cells = {k: [_FORMAT[k][1](s[k]) if s.get(k) is not None else "-" for _, _, s in rows]
             for k in keys}
    title = f"--errors {summaries[0]['errors']}" + \
        (_judged_by(summaries[0]) if len(summaries) == 1 else "")
    # A table wider than the terminal would squeeze its cells to "0…": split the figures
    # into as many tables as it takes, each repeating the file and group columns.
    for part, chunk in enumerate(_chunks(keys, cells, label_names, labels, console.width)):
        table = Table(title=title if part == 0 else None, title_justify="left")
        for name in label_names:
            table.add_column(name, no_wrap=True)
        for key in chunk:
            table.add_column(SIDE_BY_SIDE[key], justify="right", no_wrap=True)
        for r, label in enumerate(labels):
            table.add_row(*label, *(cells[k][r] for k in chunk))
        console.print(table)
    if "win_rate_ci" in keys:
        console.print(BOOTSTRAP_CI, highlight=False)
    terms = next((s["alpacaeval_lc_terms"] for _, _, s in rows if s.get("alpacaeval_lc_terms")),
                 None)
    if terms:
        lc = ("AE LC: its length-controlled win rate" if "alpacaeval_lc_win_rate" in keys
              else f"AE LC approx.: the {APPROX_LC}")
        console.print(f"AE: AlpacaEval's figures (%); {lc}, GLM terms: {terms}",
                      highlight=False)


def _chunks(keys: list[str], cells: dict[str, list[str]], label_names: list[str],
            labels: list[list[str]], width: int) -> list[list[str]]:
    """The figure columns, in order, cut into runs that fit ``width`` beside the labels
    (a column takes its widest cell plus three characters of padding and border)."""
    def column(header: str, values: list[str]) -> int:
        return max([len(header), *(len(v) for v in values)]) + 3

    fixed = 1 + sum(column(n, [label[i] for label in labels]) for i, n in enumerate(label_names))
    chunks: list[list[str]] = [[]]
    used = fixed
    for key in keys:
        need = column(SIDE_BY_SIDE[key], cells[key])
        if chunks[-1] and used + need > width:
            chunks.append([])
            used = fixed
        chunks[-1].append(key)
        used += need
    return chunks


def _judges(summaries: Sequence[dict[str, Any]], console: Console) -> None:
    rows = judge_table(list(summaries))
    if sum(row["group"] is None for row in rows) < 2:
        return  # one judgment: the tables above say it all
    keys = [k for k in JUDGE_COLUMNS if k == "n" or any(r.get(k) is not None for r in rows)]
    grouped = any(row["group"] is not None for row in rows)
    table = Table(title="judges (rows: judge x template)", title_justify="left")
    if len(summaries) > 1:
        table.add_column("file", no_wrap=True)
    for name in ("judge", "template", "source", *(["group"] if grouped else [])):
        table.add_column(name, no_wrap=True)
    for key in keys:
        table.add_column(JUDGE_COLUMNS[key], justify="right")
    for row in rows:
        names = [row[k] or ("(all)" if k == "group" else "-")
                 for k in ("judge", "template", "source", *(["group"] if grouped else []))]
        cells = [str(row[k]) if k == "n" else (_frac(row[k]) if row[k] is not None else "-")
                 for k in keys]
        table.add_row(*([row["file"]] if len(summaries) > 1 else []), *names, *cells)
    console.print(table)


def _rankings(summaries: Sequence[dict[str, Any]], console: Console) -> None:
    """Arena-Hard's ranking of each file and group that has one."""
    for summary in summaries:
        for part in (summary, *(summary.get("groups") or [])):
            if part.get("arenahard_ranking"):
                where = summary["file"] + (f", {part['group']}" if part.get("group") else "")
                console.print(arenahard_table(part["arenahard_ranking"],
                                              part["arenahard_baseline"], where))


def arenahard_table(rows: list[dict[str, Any]], baseline: str, where: str) -> Table:
    """Arena-Hard's ranking (report/arenahard.py) as a table; compare prints it too."""
    def bounds(v: Any, digits: int) -> str:
        return "-" if not v else "[" + ", ".join(
            "-" if x is None else f"{x:.{digits}f}" for x in v) + "]"

    def num(v: Any, digits: int = 2) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    table = Table(title=f"Arena-Hard ranking, {where}, baseline {baseline} (score: its v2.0 "
                        "score against the baseline, 90% CI: the 5th and 95th percentiles of "
                        "its bootstrap means, as Arena-Hard; BT: Bradley-Terry rating, "
                        "baseline 1000, and the win rate it predicts, 95% CI: percentile "
                        "bootstrap over the battles; both over the judge's verdicts, without "
                        "its disagreement with people; -: infinite)",
                  title_justify="left")
    for name in ("rank", "model", "battles", "score %", "90% CI", "BT rating", "95% CI",
                 "BT win rate %", "95% CI "):
        table.add_column(name, justify="left" if name == "model" else "right")
    for row in rows:
        table.add_row(str(row["rank"]), row["model"], str(row["battles"]), num(row["score"]),
                      bounds(row["score_ci"], 2), num(row["rating"], 0),
                      bounds(row["rating_ci"], 0), num(row["win_rate"]),
                      bounds(row["win_rate_ci"], 2))
    return table


def _bounds(v: Any, digits: int) -> str:
    return "-" if not v else "[" + ", ".join(
        "-" if x is None else f"{x:.{digits}f}" for x in v) + "]"


def _num(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_style(style: dict[str, Any], where: str, console: Console) -> None:
    """--style-control's table and lines (report/style.py); compare prints them too."""
    source = ("five-level verdicts, A>>B and B>>A 3 battles each"
              if style["battles_from"] == "label5" else "each order's verdict, 1 battle each")
    table = Table(title=f"Style control, {where}, baseline {style['baseline']}: Arena-Hard "
                        "v2.0's Bradley-Terry fit against the baseline with the answers' "
                        f"length and markdown as features ({style['battles']} battles from "
                        f"{source}; length in {style['length_unit']})", title_justify="left")
    for name in ("model", "battles", "uncontrolled % [90% CI]", "controlled % [90% CI]",
                 "BT rating [90% CI]", "controlled rating [90% CI]"):
        # cells may wrap at their spaces ("70.83" over "[67.50, 74.60]") in a narrow
        # terminal rather than be cut to "70.…"
        table.add_column(name, justify="left" if name == "model" else "right")
    for row in style["ranking"]:
        table.add_row(row["model"], str(row["battles"]),
                      *(f"{_num(row[key], digits)} {_bounds(row[f'{key}_ci'], digits)}"
                        for key, digits in (("score", 2), ("controlled_score", 2),
                                            ("rating", 0), ("controlled_rating", 0))))
    console.print(table)
    rounds = style["rounds"]
    lines = [
        f"controlled %: Arena-Hard v2.0's style-controlled score, the fit's win rate against "
        f"the baseline: the median of {rounds} fits on the battles resampled with "
        f"replacement, 90% CI: their 5th and 95th percentiles. uncontrolled %: the same "
        f"{rounds} fits without the style features (a model's mean battle score in each "
        f"resample). "
        f"BT rating, controlled rating: both fits on the Elo scale (400 per factor of 10 in "
        f"the odds, baseline 1000), median and 90% CI of the same fits; -: infinite."]
    if style["coefficients"]:
        lines.append(
            "style coefficients (log-odds per standard deviation of each feature; median of "
            f"the {rounds} fits, 90% CI: 5th and 95th percentiles): " + ", ".join(
                f"{name} {_num(c['median'], 3)}" + (f" {_bounds(c['ci'], 3)}"
                                                     if c["median"] is not None else "")
                for name, c in style["coefficients"].items()))
    if style["features_left_out"]:
        lines.append("left out of the fit, the same in every battle: "
                     + ", ".join(style["features_left_out"]))
    if style["battles_left_out"]:
        lines.append(f"{style['battles_left_out']} battles between two models other than "
                     "the baseline left out (Arena-Hard's style control fits battles against "
                     "its baseline)")
    if style["rounds_without_optimum"]:
        lines.append(f"{style['rounds_without_optimum']} of {rounds} fits had no optimum "
                     "(left out of the percentiles)")
    if style["length_note"]:
        lines.append(f"note: length in {style['length_unit']}, not in o200k_base tokens as "
                     f"Arena-Hard counts it: {style['length_note']}")
    for line in lines:
        console.print(line, highlight=False, markup=False)
