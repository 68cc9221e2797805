"""Judge panels: several judges judge every item and a vote pools their verdicts.

Verga et al. 2024 ("Replacing Judges with Juries") find that a panel of smaller judges can
agree with people better than one large judge. Each member is an ordinary ``Judging`` (its
own judge, template and swap debiasing); the panel wraps them, as the cascade wraps its two
judges, so no backend knows it is in a panel.

The votes (``--panel-vote``), over the members that returned a verdict (a failed member
abstains; when all fail, the item fails):

* ``majority``: the verdict most members give. A split vote is broken by the voters' summed
  probability of their verdict (each member's orders averaged); still tied (no
  probabilities), a pairwise item is a tie and a pass/fail item fails (the cautious call
  for safety checks). For 1-10 grades, the median.
* ``mean``: the members' verdict probabilities averaged (each member's orders averaged; a
  member without probabilities counts as certain of its verdict), then the most probable
  verdict, ties broken as above. For grades, the mean.
* ``unanimous``: a verdict only when every voting member gives it; otherwise a tie for a
  pairwise item (as ``--combine strict`` does for the two orders) and a fail for a pass/fail
  item. For grades, the lowest (the grade every member gives at least).

The record keeps every member's judgment under ``judgment.panel`` (in ``--judge`` order), the
vote counts, and ``agreement``: the share of member pairs that agree on this item (the
per-item term of Fleiss' kappa); ``judgecli report`` turns the members into Krippendorff's
alpha over the file.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import BudgetExhausted, JudgecliError
from ..io.ids import records_by_item
from ..io.records import MULTI, PAIR, Item
from ..judging.choices import VOTES
from ..judging.confidence import order_average
from ..judging.runner import Judging
from ..parsers import FAIL, PASS, TIE, A, B
from ..templates import Template

PAIR_VERDICTS = (A, B, TIE)
BINARY_VERDICTS = (PASS, FAIL)


def verdict_kind(judging: Judging) -> str:
    """What a member's judgments hold: pair verdicts, pass/fail verdicts or grades."""
    return template_verdicts(judging.options.template)


def template_verdicts(template: Template) -> str:
    """What a template's judgments hold: ``pair``, ``binary``, ``grade`` or ``multi``."""
    if template.kind == PAIR:
        return "pair"
    if template.parser == "pass-fail":
        return "binary"
    if template.kind == MULTI:
        return "multi"
    return "grade"


def check_panel_templates(templates: Sequence[Template]) -> None:
    """Members must give verdicts of one kind (checked before any judge is loaded)."""
    kinds = {template_verdicts(t) for t in templates}
    if "multi" in kinds:
        raise JudgecliError("panels judge pairwise and single-answer items, not "
                            "multi-answer ones")
    if len(kinds) > 1:
        names = ", ".join(sorted({t.name for t in templates}))
        raise JudgecliError(f"the panel's templates ({names}) do not judge the same kind of "
                            "verdict; give templates of one kind")


class Panel:
    """A Judging-like object: ``judge_items`` returns one record per item, in order."""

    def __init__(self, members: Sequence[Judging], vote: str = "majority") -> None:
        if vote not in VOTES:
            raise JudgecliError(f"--panel-vote must be one of {', '.join(VOTES)}")
        if len(members) < 2:
            raise JudgecliError("a panel needs at least two members (--judge twice or more)")
        check_panel_templates([m.options.template for m in members])
        self.members = list(members)
        self.vote = vote
        self.kind = verdict_kind(members[0])
        # The runner sizes its input windows by this judge's batches.
        self.judge = members[0].judge
        templates = {m.options.template.name for m in members}
        self.template = templates.pop() if len(templates) == 1 else "mixed"

    # -- judging -----------------------------------------------------------------------------
    def check_item(self, item: Item) -> None:
        for member in self.members:
            member.check_item(item)

    def judge_items(self, items: list[Item]) -> list[dict[str, Any]]:
        per_member, stopped = self._run_members(items)
        out = []
        for k in range(len(items)):
            records = [done[k] for done in per_member]
            if any(r is None for r in records):
                continue  # a member stopped early (--max-cost): left for --resume
            record = dict(records[0])
            record["judgment"] = self.combine([r["judgment"] for r in records])
            out.append(record)
        if stopped is not None:
            stopped.records = out
            raise stopped
        return out

    def _run_members(self, items: list[Item],
                     ) -> tuple[list[list[dict[str, Any] | None]], BudgetExhausted | None]:
        """Every member judges the window; members with distinct judges run at once (a local
        model and an API judge overlap), members sharing one judge object take turns."""
        groups: dict[int, list[int]] = {}
        for number, member in enumerate(self.members):
            groups.setdefault(id(member.judge), []).append(number)
        results: list[list[dict[str, Any] | None]] = [[] for _ in self.members]
        stops: list[BudgetExhausted] = []

        def run(numbers: list[int]) -> None:
            for number in numbers:
                try:
                    records: list[dict[str, Any] | None] = list(
                        self.members[number].judge_items(items))
                except BudgetExhausted as stop:
                    records = records_by_item(stop.records, items)
                    stops.append(stop)
                results[number] = records

        if len(groups) == 1:
            run(next(iter(groups.values())))
        else:
            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                for future in [pool.submit(run, numbers) for numbers in groups.values()]:
                    future.result()  # re-raises a member's error here
        return results, (stops[0] if stops else None)

    # -- voting ------------------------------------------------------------------------------
    def combine(self, judgments: list[dict[str, Any]]) -> dict[str, Any]:
        """The panel's judgment from its members' judgments of one item."""
        out: dict[str, Any] = {"judge": "panel", "template": self.template, "vote": self.vote}
        voting = [j for j in judgments if j.get("error") is None and
                  (j.get("score") if self.kind == "grade" else j.get("verdict")) is not None]
        abstained = len(judgments) - len(voting)
        if not voting:
            reasons = "; ".join(f"{j.get('judge')}: {j.get('error') or 'no verdict'}"
                                for j in judgments)
            key = "score" if self.kind == "grade" else "verdict"
            out.update({key: None, "confidence": None, "consistent": None,
                        "error": f"every panel member failed ({reasons})", "votes": {},
                        "abstained": abstained, "agreement": None})
        elif self.kind == "grade":
            scores = [float(j["score"]) for j in voting]
            out.update(score=self._grade(scores), confidence=None, consistent=None,
                       error=None, votes=_counts(_grade_key(s) for s in scores),
                       abstained=abstained, agreement=pair_agreement(scores))
        else:
            verdict, confidence = self._verdict(voting)
            verdicts = [j["verdict"] for j in voting]
            out.update(verdict=verdict, confidence=confidence, consistent=None, error=None,
                       votes=_counts(verdicts), abstained=abstained,
                       agreement=pair_agreement(verdicts))
            if self.kind == "pair":
                orders = self._order_votes(voting)
                if orders:
                    out["orders"] = orders
                    if len(orders) == 2:
                        out["consistent"] = orders[0]["verdict"] == orders[1]["verdict"]
        usage = Counter[str]()
        for j in judgments:
            usage.update({k: v for k, v in (j.get("usage") or {}).items() if isinstance(v, int)})
        if usage:
            out["usage"] = dict(usage)
        if any(j.get("truncated") for j in judgments):
            out["truncated"] = True  # a member was shown the answers cut (--truncate)
        out["panel"] = judgments
        return out

    def _verdict(self, voting: list[dict[str, Any]]) -> tuple[str, float | None]:
        classes = PAIR_VERDICTS if self.kind == "pair" else BINARY_VERDICTS
        dists = [_distribution(j, classes) for j in voting]
        mean = {c: sum(d[c] for d in dists) / len(dists) for c in classes}
        if self.vote == "unanimous":
            verdicts = {j["verdict"] for j in voting}
            verdict = verdicts.pop() if len(verdicts) == 1 else self._undecided()
        else:
            if self.vote == "majority":
                counts = Counter(j["verdict"] for j in voting)
                top = max(counts.values())
                tied = [c for c in classes if counts.get(c) == top]
            else:
                top_p = max(mean.values())
                tied = [c for c in classes if mean[c] >= top_p - 1e-12]
            verdict = tied[0] if len(tied) == 1 else self._break_tie(tied, voting, dists)
        return verdict, mean[verdict]

    def _break_tie(self, tied: list[str], voting: list[dict[str, Any]],
                   dists: list[dict[str, float]]) -> str:
        # Each voter weighs in with its own probability of its verdict, its orders averaged
        # (``dists``: each voter's distribution, read from its orders rather than its
        # ``confidence``, which earlier versions' strict rule defined otherwise).
        # Members without probabilities weigh 1 each and cannot break a tie.
        weight = {c: sum(d[c] for j, d in zip(voting, dists, strict=True) if j["verdict"] == c)
                  for c in tied}
        best = max(weight.values())
        leaders = [c for c in tied if weight[c] >= best - 1e-12]
        return leaders[0] if len(leaders) == 1 else self._undecided()

    def _undecided(self) -> str:
        return TIE if self.kind == "pair" else FAIL

    def _grade(self, scores: list[float]) -> float:
        if self.vote == "majority":
            return float(statistics.median(scores))
        if self.vote == "mean":
            return sum(scores) / len(scores)
        return min(scores)

    def _order_votes(self, voting: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The panel's verdict in each presentation order: the same vote over the members'
        verdicts of that order (for the report's position-bias figures)."""
        out = []
        for order in ("AB", "BA"):
            entries = []
            for j in voting:
                found = [o for o in j.get("orders") or () if o.get("order", "AB") == order]
                if not found:
                    return out if order == "BA" else []
                entries.append(found[0])
            answered = [{"verdict": o.get("verdict"), "probs": o.get("probs")}
                        for o in entries if o.get("error") is None and o.get("verdict")]
            verdict = self._verdict(answered)[0] if answered else None
            out.append({"order": order, "verdict": verdict,
                        "error": None if answered else "every member failed this order"})
        return out


def _distribution(judgment: dict[str, Any], classes: Sequence[str]) -> dict[str, float]:
    """A member's verdict probabilities: its orders' averaged, else certain of its verdict."""
    dist = order_average(judgment.get("orders") or [judgment], classes)
    total = sum(dist.values()) if dist else 0.0
    if dist and total > 0:
        return {c: v / total for c, v in dist.items()}
    return {c: 1.0 if c == judgment["verdict"] else 0.0 for c in classes}


def pair_agreement(values: Sequence[Any]) -> float | None:
    """The share of member pairs that agree: sum n_c (n_c - 1) / (n (n - 1))."""
    n = len(values)
    if n < 2:
        return None
    counts = Counter(values)
    return sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))


def _grade_key(score: float) -> str:
    return f"{score:g}"


def _counts(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))
