"""Panel members and reviews inside judgment records, read as judgments of their own.

A panel record (``judgecli judge`` with several ``--judge``) keeps each member's ordinary
judgment under ``judgment.panel``, in the same order and number on every line, and the
panel's per-item ``agreement`` (the share of member pairs that agree). A reviewed record
keeps the reviewer's judgment under ``judgment.review`` with ``changed``; items whose first
judgment failed are not reviewed, so a line may have no review. Each member and the review
become a :class:`~judgecli.report.columns.View` of the same items, named by its judge and
template: their most common values, since a resumed run may name a judge differently on some
lines. Errors name the dotted path, as ``--map`` takes it: ``judgment.panel.1.verdict``.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from typing import Any

import numpy as np

from ..errors import InputError
from .columns import MISSING, Kinds, VerdictColumns, View, as_number

_NOTHING: dict[str, Any] = {}


def _names(base: str) -> dict[str, str]:
    return {"judgment": base, **{key: f"{base}.{key}" for key in
                                 ("verdict", "score", "confidence", "orders")}}


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _most_common(counts: Counter[Any]) -> Any:
    return counts.most_common(1)[0][0] if counts else None


class ViewReader:
    """Reads ``judgment.panel`` and ``judgment.review`` of each record of one file."""

    def __init__(self, file: str, kinds: Kinds) -> None:
        self.file, self.kinds = file, kinds
        self.n = 0  # records read so far
        self.first_line = 0
        # The file's own judge, template and vote: counted in runs of equal lines.
        self.names: Counter[tuple[str | None, ...]] = Counter()
        self.last: tuple[Any, ...] = (None, None, None)
        self.run = 0
        self.members: list[VerdictColumns] | None = None  # [] in a file without panels
        self.member_names: list[Counter[tuple[str | None, str | None]]] = []
        self.agreement = array("d")
        self.review: VerdictColumns | None = None
        self.review_names: Counter[tuple[str | None, str | None]] = Counter()
        self.present, self.changed = array("b"), array("b")

    def add(self, judgment: Any, line: int) -> None:
        get = judgment.get if type(judgment) is dict else _NOTHING.get
        key = (get("judge"), get("template"), get("vote"))
        if key != self.last:  # the hot loop: a run of equal names is counted once
            self._count()
            self.last = key
        self.run += 1
        panel = get("panel", MISSING)
        if self.members is None:  # the first line says whether this is a panel's file
            self._start(panel, line)
        if self.members:
            self._panel(panel, get("agreement"), line)
        elif panel is not MISSING:
            raise InputError(f"a panel judgment in a file whose line {self.first_line} has "
                             "none; report them separately", file=self.file, line=line,
                             field="judgment.panel")
        review = get("review", MISSING)
        if review is not MISSING or self.review is not None:
            self._review(review, line)
        self.n += 1

    def _count(self) -> None:
        if self.run:
            self.names[tuple(_text(value) for value in self.last)] += self.run
            self.run = 0

    def _start(self, panel: Any, line: int) -> None:
        self.first_line = line
        self.members = []
        if panel is MISSING:
            return
        if type(panel) is not list or not panel:
            raise InputError("expected a list of the members' judgments", file=self.file,
                             line=line, field="judgment.panel")
        self.members = [VerdictColumns(self.file, self.kinds, _names(f"judgment.panel.{k}"))
                        for k in range(len(panel))]
        self.member_names = [Counter() for _ in panel]

    def _panel(self, panel: Any, agreement: Any, line: int) -> None:
        members = self.members or []
        if type(panel) is not list or len(panel) != len(members):
            raise InputError("missing" if panel is MISSING else
                             f"expected a list of {len(members)} members' judgments, as on "
                             f"line {self.first_line}", file=self.file, line=line,
                             field="judgment.panel")
        for k, member in enumerate(panel):
            if type(member) is not dict:
                raise InputError("expected an object (a member's judgment)", file=self.file,
                                 line=line, field=f"judgment.panel.{k}")
            get = member.get
            members[k].add(line, get("verdict", MISSING), get("score", MISSING),
                           get("confidence"), get("error"), get("orders"))
            self.member_names[k][_text(get("judge")), _text(get("template"))] += 1
        self.agreement.append(math.nan if agreement is None else as_number(
            agreement, "a share in [0, 1] or null", file=self.file, line=line,
            name="judgment.agreement", unit=True))

    def _review(self, review: Any, line: int) -> None:
        if self.review is None:  # the first review: the items before it were not reviewed
            self.review = VerdictColumns(self.file, self.kinds, _names("judgment.review"))
            for _ in range(self.n):
                self._not_reviewed()
        if review is MISSING or review is None:
            self._not_reviewed()
            return
        if type(review) is not dict:
            raise InputError("expected an object (the reviewer's judgment)", file=self.file,
                             line=line, field="judgment.review")
        get = review.get
        self.review.add(line, get("verdict", MISSING), get("score", MISSING),
                        get("confidence"), get("error"), get("orders"))
        self.review_names[_text(get("judge")), _text(get("template"))] += 1
        changed = get("changed")
        if changed is not None and type(changed) is not bool:
            raise InputError(f"expected true, false or null, got {changed!r}", file=self.file,
                             line=line, field="judgment.review.changed")
        self.present.append(1)
        self.changed.append(-1 if changed is None else int(changed))

    def _not_reviewed(self) -> None:
        assert self.review is not None
        self.review.add_absent()
        self.present.append(0)
        self.changed.append(-1)

    def finish(self, n: int) -> tuple[list[View], np.ndarray | None, dict[str, str | None]]:
        """The views, the panel's per-item agreement (None without a panel), and the file's
        own judge, template and vote (a panel's)."""
        views = []
        for member, names in zip(self.members or [], self.member_names, strict=True):
            judge, template = _most_common(names)
            views.append(View("member", judge, template, member.finish(n)))
        agreement = np.array(self.agreement, dtype=np.float64) if self.members else None
        if self.review is not None and self.review_names:  # not when every review is null
            columns = self.review.finish(n)
            columns["present"] = np.array(self.present, dtype=bool)
            columns["changed"] = np.array(self.changed, dtype=np.int8)
            judge, template = _most_common(self.review_names)
            views.append(View("review", judge, template, columns))
        self._count()
        judge, template, vote = _most_common(self.names) or (None, None, None)
        return views, agreement, {"judge": judge, "template": template, "vote": vote}
