"""The judge x template table (``judges``): every judgment the files hold, side by side.

One row per judgment of the items: each file's own (its most common ``judgment.judge`` and
``judgment.template``; a panel's is labelled "panel (majority)" and so on), each panel member
(``judgment.panel.K``, by its own judge and template) and each review ("review by X", on
the items it reviewed). ``source`` is the path the row's judgments were read from, which
tells two members with the same judge and template apart. Every row is summarised with the
same figures as the file (:func:`judgecli.report.summary.figures`), so a row's figures are
exactly those the file would get if it held only that judgment, on the same items and under
the same ``--errors``; with ``--by``, each group has its rows too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .columns import View
from .load import Judgments

JUDGE_KEYS = ("file", "judge", "template", "source", "group", "kind", "n", "n_labeled",
              "n_failed", "agreement", "f1", "kappa", "f1_fail", "mae", "spearman")


def _row(figures: dict[str, Any], judge: str | None, template: str | None,
         source: str) -> dict[str, Any]:
    row = {key: figures.get(key) for key in JUDGE_KEYS}
    row.update(judge=judge, template=template, source=source)
    return row


def _own_judge(judgments: Judgments) -> str | None:
    if any(view.source == "member" for view in judgments.views):
        return f"panel ({judgments.vote})" if judgments.vote else "panel"
    return judgments.judge


def _view_row(judgments: Judgments, view: View, source: str,
              summarise: Callable[[Judgments], dict[str, Any]]) -> dict[str, Any]:
    figures = summarise(judgments.view(view))
    judge = f"review by {view.judge or '?'}" if view.source == "review" else view.judge
    return _row(figures, judge, view.template, source)


def judge_rows(judgments: Judgments, own: dict[str, Any],
               summarise: Callable[[Judgments], dict[str, Any]],
               group: str | None = None) -> list[dict[str, Any]]:
    """The rows of one file (or one ``--by`` group of it): ``own`` holds the figures of its
    own judgment, already computed; ``summarise`` computes those of a view."""
    rows = [_row(own, _own_judge(judgments), judgments.template, "judgment")]
    member = 0
    for view in judgments.views:
        if view.source == "member":
            source, member = f"judgment.panel.{member}", member + 1
        else:
            source = "judgment.review"
        rows.append(_view_row(judgments, view, source, summarise))
    for row in rows:
        row["group"] = group
    return rows


def judge_table(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every file's rows in one table: all overall rows first, then each group's rows (groups
    in the order they first appear), so rows that compare with each other stand together."""
    rows = [row for summary in summaries for row in summary.get("judges") or []]
    groups = list(dict.fromkeys(row["group"] for row in rows if row["group"] is not None))
    rank = {group: number for number, group in enumerate([None, *groups])}
    return sorted(rows, key=lambda row: rank[row["group"]])
