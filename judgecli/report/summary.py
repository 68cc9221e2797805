"""One report per judgment file (and per group with ``--by``): every figure, as JSON.

Which figures appear depends on the data, never silently: every key is always present and
is null where it cannot be computed (no labels, one order only, no confidence...).

``--errors`` says how an item whose judgment failed counts:

* ``wrong`` (default): in every label figure it is its own class that never matches a
  label; an order that failed makes its item inconsistent; it is left out of the win rate
  (there is nothing to be wrong about without labels).
* ``tie``: it counts as a tie everywhere, as JudgeLM and PandaLM count unparseable output.
  Binary (pass / fail) judgments have no tie: ``tie`` is refused for them.
* ``drop``: the item is left out of every figure (an item with one failed order too).

Binary judgments get the label figures, ``pass_rate`` and the reliability figures; the
win-rate, position and length figures need two answers and stay null. A panel's file adds
the members' agreement (``panel``), a reviewed file what the review changed (``review``), and
every file a row per judgment it holds in ``judges`` (``judges``). Judgments that carry
AlpacaEval's preference add its leaderboard figures (``alpacaeval``); judgments whose orders
carry Arena-Hard's five-level verdict (``label5``) add its score and, for three models or
more against a baseline, its ranking (``arenahard``). With ``--style-control`` a file (not a
group) adds Arena-Hard v2.0's style-controlled scores and ratings (``style_control``, from
``style``).

``n_failed`` and ``error_rate`` (failed judgments / items) are shown whatever the choice, and
so is ``n_delimiter_answers``: items whose answers hold the template's own delimiters, which
may mislead the judge (``delimiters``). ``notes`` (a file's, not a group's) says in words what
a figure cannot say by being null: AlpacaEval's figures of a file judged for them whose judge
gave no logprobs.
Single-answer grades without a number are always left out of correlations and MAE.

When labels cover only part of the items, ``corrected`` holds the judge's win rate, pass
rate or mean grade (and, with three models or more, Bradley-Terry ratings) corrected by the
labelled items, with PPI++ intervals at level 1 - ``alpha`` (``corrected``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import JudgecliError
from .agreement import (
    LABEL_KEYS,
    ORDER_KEYS,
    label_figures,
    order_figures,
)
from .alpacaeval import ALPACAEVAL_KEYS, alpacaeval_figures
from .alpacaeval_lc import read_gamed
from .arenahard import ARENAHARD_KEYS, ROUNDS, arenahard_figures
from .bias import BIAS_KEYS, longer_wins, position_figures, verdicts_by_order
from .codes import FAILED, NO_LABEL, apply_errors
from .columns import BINARY, PAIR, SINGLE
from .grades import NUMERIC_KEYS, grade_accuracy, numeric_figures
from .judges import judge_rows
from .labels import join_labels, read_labels
from .load import Judgments, check_by, read_judgments, shared_items
from .panel import PANEL_KEYS, panel_figures
from .reliability import RELIABILITY_KEYS, reliability_figures
from .review import REVIEW_KEYS, review_figures
from .winrate import RESAMPLES, WIN_KEYS, pass_rate, win_figures

ERROR_POLICIES = ("wrong", "tie", "drop")
PAIR_FIELDS = ("model_a", "model_b")
# B-against-A figures, null at the head of a file of several model pairs (models.py)
POOLED_KEYS = (*WIN_KEYS, *ALPACAEVAL_KEYS, "arenahard_score", "arenahard_score_ci")
HEAD_KEYS = ("file", "group", "kind", "errors", "n", "n_unshared", "n_labeled", "n_failed",
             "error_rate", "n_delimiter_answers")
KEYS = (*HEAD_KEYS, *LABEL_KEYS, *ORDER_KEYS, *BIAS_KEYS, "verdicts_by_order", *WIN_KEYS,
        "pass_rate", "longer_wins", "n_length_decided", *ALPACAEVAL_KEYS, *ARENAHARD_KEYS,
        "mean_score", "grade_accuracy", *NUMERIC_KEYS,
        *RELIABILITY_KEYS, *PANEL_KEYS, *REVIEW_KEYS, "corrected", "style_control")


@dataclass(frozen=True)
class ReportOptions:
    errors: str = "wrong"
    by: tuple[str, ...] = ()
    mapping: Mapping[str, str] = field(default_factory=dict)
    labels: str | None = None
    seed: int = 0
    resamples: int = RESAMPLES
    baseline: str | None = None  # Arena-Hard's baseline (default: the model in every item)
    rounds: int = ROUNDS  # Arena-Hard's bootstrap rounds
    alpha: float = 0.05  # the judge-corrected intervals' level is 1 - alpha (``corrected``)
    alpacaeval_gamed: str | None = None  # AlpacaEval's df_gamed.csv (or its folder)
    style_control: bool = False  # Arena-Hard v2.0's style-controlled fit (``style``)


def build_report(paths: Sequence[str], options: ReportOptions = ReportOptions(),
                 ) -> list[dict[str, Any]]:
    """Read the files and summarise each; several files are reported on the ids they share."""
    if options.errors not in ERROR_POLICIES:
        raise JudgecliError(f"--errors must be one of {', '.join(ERROR_POLICIES)}")
    if not paths:
        raise JudgecliError("no judgment files given")
    if [*paths, options.labels].count("-") > 1:
        raise JudgecliError("stdin (-) can be read only once")
    labels = read_labels(options.labels) if options.labels else None
    if options.rounds < 1:
        raise JudgecliError(f"--rounds must be at least 1, got {options.rounds}")
    if not 0 < options.alpha < 1:
        raise JudgecliError(f"--alpha must be between 0 and 1, got {options.alpha:g}")
    if options.alpacaeval_gamed is not None:
        read_gamed(options.alpacaeval_gamed)  # a bad file is named before any is read
    sets = [read_judgments(p, mapping=dict(options.mapping), by=options.by,
                           style=options.style_control) for p in paths]
    check_by(sets)
    for judgments in sets:
        check_baseline(judgments, options.baseline)
    if labels is not None:
        for judgments in sets:
            join_labels(judgments, labels)
    unshared = [0] * len(sets)
    if len(sets) > 1:
        common = shared_items(sets)
        if len(common) == 0 and all(len(j.ids) for j in sets):
            # Figures over no items would read as a report of nothing (n = 0, exit 0).
            raise JudgecliError(
                f"the files share no item ids ({', '.join(paths)}); several files are "
                "reported on the items they have in common; report them one at a time, or "
                "judge the same items")
        for number, judgments in enumerate(sets):
            keep = np.isin(judgments.ids, common, assume_unique=True)
            unshared[number] = int(np.count_nonzero(~keep))
            if unshared[number]:
                sets[number] = judgments.subset(keep)
    return [summarise(*per_pair(j, options), n_unshared=u)
            for j, u in zip(sets, unshared, strict=True)]


def per_pair(j: Judgments, options: ReportOptions) -> tuple[Judgments, ReportOptions]:
    """A file of several model pairs without --by is reported per pair, as with --by
    model_a,model_b (report/models.py)."""
    if j.pair_group is None or options.by:
        return j, options
    return (replace(j, group=j.pair_group, groups=list(j.model_pairs)),
            replace(options, by=PAIR_FIELDS))


def check_baseline(judgments: Judgments, baseline: str | None) -> None:
    """--baseline names a model of a file with five-level verdicts (a file without them is
    the CLI's to name), and a file whose records have no models cannot take one."""
    names = judgments.model_names
    if baseline is None or judgments.label5 is None or baseline in names:
        return
    have = f"its models: {', '.join(names)}" if names else \
        "its records have no model_a or model_b fields"
    raise JudgecliError(f"--baseline {baseline}: not a model of {judgments.file} ({have})")


def summarise(judgments: Judgments, options: ReportOptions = ReportOptions(), *,
              n_unshared: int = 0) -> dict[str, Any]:
    """One file's figures; ``groups`` with ``--by``; ``judges``: the judge x template rows."""
    def view_figures(view: Judgments) -> dict[str, Any]:
        return figures(view, options)

    out = figures(judgments, options)
    out["n_unshared"] = n_unshared
    out["notes"] = list(judgments.notes)  # what the figures cannot say by being null
    if judgments.pair_group is not None:
        # Pooled over several model pairs, B-against-A figures mean nothing (models.py).
        out["n_model_pairs"] = len(judgments.model_pairs)
        out.update(dict.fromkeys(POOLED_KEYS))
        if (out.get("corrected") or {}).get("win_rate"):
            # the same for the judge-corrected win rate (its ratings compare the models)
            out["corrected"] = {**out["corrected"], "win_rate": None}
        out["notes"].append(f"{len(judgments.model_pairs)} model pairs (model_a / model_b): "
                            "the figures of B against A are per pair, in the pairs' rows "
                            "(groups); pooled over pairs they would mean nothing")
    if judgments.style is not None:
        out["style_control"] = style_control(judgments, options)
    reviewed = any(view.source == "review" for view in judgments.views)

    def own(part: Judgments, headline: dict[str, Any]) -> dict[str, Any]:
        # The judges table's row of the file's own judge is that judge's verdicts, before
        # any review (the reviewer has its row).
        return figures(part, options, final=False) if reviewed else headline

    rows = judge_rows(judgments, own(judgments, out), view_figures)
    if options.by:
        # Sort once by group and slice, so many groups cost one pass, not one per group.
        order = np.argsort(judgments.group, kind="stable")
        bounds = np.searchsorted(judgments.group[order], np.arange(len(judgments.groups) + 1))
        out["groups"] = []
        for code, name in enumerate(judgments.groups):
            part = judgments.subset(order[bounds[code]:bounds[code + 1]])
            out["groups"].append({**figures(part, options), "group": name})
            rows.extend(judge_rows(part, own(part, out["groups"][-1]), view_figures,
                                   group=name))
    out["judges"] = rows
    return out


def style_control(j: Judgments, options: ReportOptions) -> dict[str, Any] | None:
    """Arena-Hard v2.0's style-controlled figures of a file's final verdicts."""
    from .style import style_figures

    if j.kind == BINARY:
        raise JudgecliError(f"--style-control: {j.file} holds pass/fail judgments; style "
                            "control needs pairwise verdicts")
    assert j.style is not None  # the games are the orders' (a review's verdict is not one)
    return style_figures(j.label5, j.order_ab, j.order_ba, j.verdict, j.style, file=j.file,
                         errors=options.errors, baseline=options.baseline, seed=options.seed,
                         rounds=options.rounds)


def final_verdicts(j: Judgments) -> Judgments:
    """A reviewed file's headline is its final verdicts: the review's where it succeeded, the
    first judge's where there was none or it failed (as the record says: a failed review
    leaves the first verdict standing). The first judge's own figures are the review's
    "before review" ones."""
    review = next((v.columns for v in j.views if v.source == "review"), None)
    if review is None:
        return j
    took = review["present"] & ~review["failed"].astype(bool)
    return replace(j, verdict=np.where(took, review["verdict"], j.verdict).astype(np.int8),
                   score=np.where(took, review["score"], j.score),
                   failed=np.where(took, False, j.failed),
                   confidence=np.where(took, review["confidence"], j.confidence))


def figures(j: Judgments, options: ReportOptions, *, final: bool = True) -> dict[str, Any]:
    """A file's figures; ``final=False``: a reviewed file's first judge's own."""
    first = j
    if final:
        j = final_verdicts(j)
    out: dict[str, Any] = dict.fromkeys(KEYS)
    n = len(j)
    n_failed = int(np.count_nonzero(j.failed))
    out.update(file=j.file, kind=j.kind, errors=options.errors, n=n, n_failed=n_failed,
               error_rate=n_failed / n if n else None,
               n_delimiter_answers=int(np.count_nonzero(j.delimited)))
    if j.kind == SINGLE:
        labelled = ~np.isnan(j.label_value)
        out["n_labeled"] = int(np.count_nonzero(labelled))
        scored = j.score[~np.isnan(j.score)]
        out["mean_score"] = float(scored.mean()) if len(scored) else None
        out.update(numeric_figures(j.score, j.label_value))
        out["grade_accuracy"] = grade_accuracy(j.score, j.label_value, options.errors)
    else:
        out["n_labeled"] = int(np.count_nonzero(j.label != NO_LABEL))
        if j.kind in (PAIR, BINARY):  # else an empty file
            _verdict_figures(j, options, out)
    if 0 < out["n_labeled"] < n:  # labels on part of the items: correct the judge's figure
        from .corrected import corrected_figures

        out["corrected"] = corrected_figures(j, errors=options.errors, alpha=options.alpha,
                                             baseline=options.baseline)
    members = [view.columns for view in j.views if view.source == "member"]
    if members:
        grades = j.kind == SINGLE
        out.update(panel_figures(members, j.panel_agreement, grades))
    for view in j.views:
        if view.source == "review":
            out.update(review_figures(first.verdict, view.columns, None if j.kind == SINGLE
                                      else j.label, options.errors))
    return out


def _verdict_figures(j: Judgments, options: ReportOptions, out: dict[str, Any]) -> None:
    binary = j.kind == BINARY
    if binary and options.errors == "tie":
        raise JudgecliError(f"--errors tie: {j.file} holds pass/fail judgments, which have "
                            "no tie; use --errors wrong or drop")
    if not binary:
        out["verdicts_by_order"] = verdicts_by_order(j.order_ab, j.order_ba)
    keep = slice(None)
    if options.errors == "drop":
        keep = ~(j.failed | (j.order_ab == FAILED) | (j.order_ba == FAILED))
    verdict = apply_errors(j.verdict[keep], options.errors)
    gold = j.label[keep]
    labelled = gold != NO_LABEL
    gold_l, verdict_l = gold[labelled], verdict[labelled]
    out.update(label_figures(gold_l, verdict_l, binary=binary))
    if binary:
        out["pass_rate"] = pass_rate(verdict)
    else:
        ab, ba = (apply_errors(o[keep], options.errors) for o in (j.order_ab, j.order_ba))
        out.update(order_figures(gold_l, ab[labelled], ba[labelled]))
        out.update(position_figures(ab, ba))
        out.update(win_figures(verdict, seed=options.seed, resamples=options.resamples))
        out.update(longer_wins(verdict, j.longer[keep]))
        if j.preference is not None and j.delta_len is not None:
            gamed = read_gamed(options.alpacaeval_gamed) if options.alpacaeval_gamed else None
            out.update(alpacaeval_figures(j.preference[keep], j.delta_len[keep],
                                          options.errors, gamed=gamed,
                                          every_item=(j.preference, j.delta_len),
                                          file=j.file))
        if j.label5 is not None:
            out.update(arenahard_figures(
                j.label5[keep], None if j.pair_models is None else j.pair_models[keep],
                j.model_names, j.lines[keep], file=j.file, errors=options.errors,
                baseline=options.baseline, seed=options.seed, rounds=options.rounds))
        del ab, ba
    del gold_l, verdict_l
    # The labelled items with a confidence. A 1M-item report copies the float column only
    # when some items are left out, and then only once.
    confidence = j.confidence[keep]
    sure = labelled & ~np.isnan(confidence)
    if sure.all():
        correct = verdict == gold
    else:
        correct, confidence = (verdict == gold)[sure], confidence[sure]
    if len(correct):
        out.update(reliability_figures(correct, confidence))
    else:
        out["n_confidence"] = 0
