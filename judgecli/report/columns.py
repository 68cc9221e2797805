"""One judgment per item as compact columns: a file's own judgment, a panel member's, a review's.

:class:`VerdictColumns` reads the judgment part of each record (verdict, each order's
verdict, score, confidence, error) into int8 / float64 arrays; ``load`` reads the rest of the
record (id, label, lengths, group) once, and ``views`` gives each panel member and each
review columns of their own. All the judgments of one file share one :class:`Kinds`, so a
panel member that judges a different kind of item than its panel is named as bad input.

A file holds one kind of judgment: ``pair`` (verdicts A / B / tie), ``binary`` (pass / fail
verdicts of one answer, no ``score`` key) or ``single`` (a ``score``). A verdict-holding
record is pair or binary by its values, so the family is set by the first verdict, label or
order verdict read and then enforced; a record whose verdict failed (null) fits either.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .codes import ABSENT, CODE, FAILED, PASS

PAIR, SINGLE, BINARY = "pair", "single", "binary"
MISSING: Any = object()  # a field absent from the record (not the same as null)

# The columns of one judgment, their array type codes and what an item without it holds.
COLUMNS = {"failed": ("b", 1), "verdict": ("b", FAILED), "order_ab": ("b", ABSENT),
           "order_ba": ("b", ABSENT), "score": ("d", math.nan), "confidence": ("d", math.nan)}
_EXPECTED = {None: '"A", "B", "tie", "pass", "fail"', False: '"A", "B", "tie"',
             True: '"pass", "fail"'}


def as_number(value: Any, what: str, *, file: str, line: int, name: str,
              unit: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or (unit and not 0.0 <= value <= 1.0):
        raise InputError(f"expected {what}, got {value!r}", file=file, line=line, field=name)
    return float(value)


def constant(n: int, value: Any, dtype: Any) -> np.ndarray:
    """A read-only column of ``n`` equal values that takes no memory (a zero-stride view):
    a pairwise file's grades, a file's groups without ``--by``, an unreviewed judgment's..."""
    return np.broadcast_to(np.array(value, dtype=dtype), (n,))


def take(column: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``column[index]``, keeping a constant column constant (indexing would copy it)."""
    if column.strides == (0,) and len(column):
        n = int(np.count_nonzero(index)) if index.dtype == bool else len(index)
        return constant(n, column[0], column.dtype)
    return column[index]


class Kinds:
    """The kind of judgment a file holds, set by its first lines and enforced on the rest."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.kind: str | None = None  # PAIR (a verdict, pair or binary) or SINGLE
        self.binary: bool | None = None  # for verdicts: pass / fail rather than A / B / tie
        self.family_line = 0  # the line that set ``binary``

    @property
    def name(self) -> str | None:
        """The kind as the report shows it."""
        return BINARY if self.kind == PAIR and self.binary else self.kind

    def check(self, kind: str, verdict: Any, line: int, names: Mapping[str, str]) -> None:
        if kind == PAIR and verdict is MISSING:
            raise InputError("missing", file=self.file, line=line, field=names["verdict"])
        if kind == self.kind:
            return
        if self.kind is not None:
            new = BINARY if kind == PAIR and verdict in ("pass", "fail") else kind
            raise InputError(f"a {new} judgment in a file of {self.name} judgments; report "
                             "them separately", file=self.file, line=line,
                             field=names["judgment"])
        self.kind = kind

    def family(self, binary: bool, line: int, name: str, what: str = "verdict") -> None:
        """Set the verdict family, or name the line that mixes pass / fail with A / B / tie."""
        if self.binary is None:
            self.binary, self.family_line = binary, line
            return
        if binary != self.binary:
            new = "a pass/fail" if binary else "an A/B/tie"
            have = "pass/fail" if self.binary else "A/B/tie"
            raise InputError(f"{new} {what} in a file of {have} verdicts (as on line "
                             f"{self.family_line}); report them separately", file=self.file,
                             line=line, field=name)

    def expected(self) -> str:
        return _EXPECTED[self.binary]


class VerdictColumns:
    """One judgment of every item, as columns. ``names``: the fields errors name (dotted
    paths: ``judgment.verdict``, ``judgment.panel.0.verdict``...). ``add`` is the hot loop."""

    def __init__(self, file: str, kinds: Kinds, names: Mapping[str, str]) -> None:
        self.file, self.kinds, self.names = file, kinds, dict(names)
        self.cols: dict[str, array[Any]] = {n: array(t) for n, (t, _) in COLUMNS.items()}

    def add(self, line: int, verdict: Any, score: Any, confidence: Any, error: Any,
            orders: Any) -> None:
        kinds, cols = self.kinds, self.cols
        kind = PAIR if score is MISSING else SINGLE
        if kind != kinds.kind or verdict is MISSING:
            kinds.check(kind, verdict, line, self.names)
        failed = error is not None and error is not MISSING
        if kind == PAIR:
            code = CODE.get(verdict) if type(verdict) is str else None
            if code is None:
                code = self.code(verdict, line, self.names["verdict"])
            elif (code >= PASS) is not kinds.binary:
                kinds.family(code >= PASS, line, self.names["verdict"])
            failed = failed or code == FAILED
            cols["verdict"].append(FAILED if failed else code)
            ab, ba = self._orders(orders, line)
            cols["order_ab"].append(ab)
            cols["order_ba"].append(ba)
        else:
            if score is None:
                failed = True
            elif not failed:
                as_number(score, "a number", file=self.file, line=line,
                          name=self.names["score"])
            cols["score"].append(math.nan if failed else float(score))
        cols["failed"].append(failed)
        if confidence is None or confidence is MISSING:
            cols["confidence"].append(math.nan)
        elif type(confidence) is float and 0.0 <= confidence <= 1.0:
            cols["confidence"].append(confidence)
        else:
            cols["confidence"].append(as_number(
                confidence, "a probability in [0, 1]", file=self.file, line=line,
                name=self.names["confidence"], unit=True))

    def add_absent(self) -> None:
        """An item this judgment does not cover (an item that was not reviewed)."""
        for name, (_, fill) in COLUMNS.items():
            self.cols[name].append(fill)

    def code(self, value: Any, line: int, name: str) -> int:
        """A verdict's code (null: failed), or an InputError naming the field."""
        if value is None:
            return FAILED
        code = CODE.get(value) if isinstance(value, str) else None
        if code is None:
            raise InputError(f"expected {self.kinds.expected()} or null, got {value!r}",
                             file=self.file, line=line, field=name)
        self.kinds.family(code >= PASS, line, name)
        return code

    def _orders(self, orders: Any, line: int) -> tuple[int, int]:
        if orders is None or orders is MISSING:
            return ABSENT, ABSENT
        ab = ba = ABSENT
        binary = self.kinds.binary
        if type(orders) is list:
            for entry in orders:
                if type(entry) is not dict:
                    break
                verdict = entry.get("verdict")
                code = CODE.get(verdict) if type(verdict) is str else None
                if code is None:
                    if verdict is not None:
                        break
                    code = FAILED
                elif (code >= PASS) is not binary:
                    if binary is not None:
                        break  # pass / fail mixed with A / B / tie: named below
                    self.kinds.family(code >= PASS, line, self.names["orders"])
                    binary = self.kinds.binary
                if entry.get("error") is not None:
                    code = FAILED
                name = entry.get("order")
                if name == "AB" or (name is None and len(orders) == 1):
                    ab = code  # one answer's one order need not say which order it is
                elif name == "BA":
                    ba = code
                else:
                    break
            else:
                return ab, ba
        return self._bad_orders(orders, line)

    def _bad_orders(self, orders: Any, line: int) -> tuple[int, int]:
        """Say exactly what is wrong with an ``orders`` list the fast path rejected."""
        name = self.names["orders"]
        if not isinstance(orders, list):
            raise InputError("expected a list", file=self.file, line=line, field=name)
        for number, entry in enumerate(orders):
            where = f"{name}[{number}]"
            if not isinstance(entry, dict) or (entry.get("order") not in ("AB", "BA") and not (
                    entry.get("order") is None and len(orders) == 1)):
                raise InputError("expected an object with \"order\": \"AB\" or \"BA\"",
                                 file=self.file, line=line, field=where)
            self.code(entry.get("verdict"), line, where + ".verdict")
        raise AssertionError("unreachable: the fast path accepted nothing wrong")

    def finish(self, n: int) -> dict[str, np.ndarray]:
        """The columns as arrays of ``n`` items (a column the kind never wrote is filled)."""
        out = {}
        for name, values in self.cols.items():
            fill = COLUMNS[name][1]
            out[name] = np.frombuffer(values, dtype=values.typecode) if n and len(values) == n \
                else constant(n, fill, values.typecode)
        out["failed"] = out["failed"].view(bool)  # int8 0 / 1 read as bool, not copied
        return out


@dataclass
class View:
    """Another judgment of the same items: a panel member or a review.

    ``columns`` holds the keys of :data:`COLUMNS`, plus for a review ``present`` (bool: the
    item was reviewed) and ``changed`` (int8: 1 changed, 0 kept, -1 null)."""

    source: str  # "member" or "review"
    judge: str | None
    template: str | None
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def subset(self, mask: np.ndarray) -> View:
        return View(self.source, self.judge, self.template,
                    {name: take(values, mask) for name, values in self.columns.items()})
