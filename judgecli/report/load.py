"""Reading judgment files into compact columns, one line at a time.

A judgment file is what ``judgecli judge`` writes: the input record plus ``judgment``. Only
what the report needs is kept, as numpy arrays (verdict codes, label codes, each order's
verdict, confidence, which answer is longer, group codes, a 64-bit hash of each id), so
memory stays near 27 bytes per pairwise item whatever the records hold. A column a file
cannot fill (grades in a pairwise file, groups without ``--by``) is one value broadcast to
every item, not an array. (Two different ids share a hash with
probability about n^2 / 2^65, some 3e-8 for a million items.) Lines are parsed with the standard
library's C decoder, or with orjson when it is installed (faster, same results); a line
either rejects is parsed again by :func:`judgecli.io.jsonl.parse_line`, so a bad line is named
exactly as ``judge`` names it. Unlike ``judge``, a repeated key inside one object is not
detected here (the decoder keeps the last value).

With ``--by``, a field that no record has (of any file) is an error naming the fields the
records have: a typo, not one group of "(none)". It is noticed while reading (``GroupFields``:
one test a record once every field has been seen), not by a second pass.

``--map DST=SRC`` points a figure's field at another (dotted) path, so verdict files from
elsewhere can be read without converting them, e.g. ``--map verdict=winner --map label=gold``.

The judgment itself is read by ``columns`` (binary pass / fail verdicts share the int8 verdict
codes, so they cost nothing more); a panel's members and a review (``views``) add about 20
bytes per item each, only in files that have them. They are read from ``judgment.panel`` and
``judgment.review`` whatever ``--map`` says. So is AlpacaEval's ``judgment.preference``, kept
with the answers' length difference only in files that have it (``alpacaeval``), and
Arena-Hard's ``label5`` of each order, kept with ``model_a`` and ``model_b`` only in files
that have it (``arenahard``), and ``model_a`` / ``model_b`` themselves in files whose records
name them (``models``, for the judge-corrected ratings).
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InputError, JudgecliError
from ..io import ids
from ..io.jsonl import display_name, iter_raw, parse_line, reject_constant
from ..io.records import lookup
from .alpacaeval import PreferenceColumns
from .arenahard import Label5Columns
from .codes import CODE, NO_LABEL, PASS
from .columns import (
    COLUMNS,
    MISSING,
    PAIR,
    Kinds,
    VerdictColumns,
    View,
    as_number,
    constant,
    take,
)
from .delimiters import holds_delimiters, record_answers
from .models import ModelColumns
from .answer_style import StyleColumns, StyleData
from .views import ViewReader

_decode = json.JSONDecoder(parse_constant=reject_constant).decode


def _strict_loads(raw: bytes) -> Any:
    """Strict JSON as orjson reads it: no NaN or Infinity."""
    return _decode(raw.decode("utf-8"))


_fast_loads: Callable[[bytes], Any]
try:  # optional: orjson parses a large file about three times faster, with the same result
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = _strict_loads

MISSING_GROUP = "(none)"
FIELD_SAMPLE = 100  # records whose fields are kept to name them when a --by field is in none
FIELDS_NAMED = 15  # fields an error names at most
LENGTH_UNKNOWN = -2  # ``longer`` of an item whose answers are not both text

# Where each field the report reads lives in a judgment record; --map DST=SRC overrides.
DEFAULT_PATHS: dict[str, str] = {
    "id": "id", "label": "label", "answer_a": "answer_a", "answer_b": "answer_b",
    "verdict": "judgment.verdict", "score": "judgment.score",
    "confidence": "judgment.confidence", "error": "judgment.error",
    "orders": "judgment.orders",
}


def get_path(record: Any, path: str) -> Any:
    """The value at a dotted path (``judgment.orders.0.verdict``), or ``MISSING``."""
    return lookup(record, path, MISSING)


def field_paths(mapping: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(DEFAULT_PATHS))
    if unknown:
        raise InputError(f"--map cannot set '{unknown[0]}'; it can set "
                         + ", ".join(sorted(DEFAULT_PATHS)))
    return {**DEFAULT_PATHS, **mapping}


def id_hash(value: Any, *, file: str, line: int) -> int:
    """A 64-bit key for an id: 3 and "3" are different ids, as in ``judge``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"expected a string or an integer, got {value!r}", file=file,
                         line=line, field="id")
    return ids.id_hash(value)


def _length(record: dict[str, Any], key: str) -> int:
    value = record.get(key)
    if isinstance(value, str):
        return len(value)
    turns = record.get("turns")
    if isinstance(turns, list) and turns and all(isinstance(t, dict) for t in turns):
        texts = [t.get(key) for t in turns]
        if all(isinstance(t, str) for t in texts):
            return sum(len(t) for t in texts)
    return -1


@dataclass
class Judgments:
    """One file's items as columns. Codes: 0 A, 1 B, 2 tie, 4 pass, 5 fail, -1 failed.

    ``views``: the same items as each panel member and the review judged them (see
    :meth:`view`); ``judge``, ``template``, ``vote``: the file's own judgment's (most common).
    """

    file: str
    kind: str | None  # PAIR, BINARY, SINGLE, or None for an empty file
    ids: np.ndarray  # uint64-compatible int64 hashes
    lines: np.ndarray  # int32 line numbers (for messages)
    failed: np.ndarray  # bool: the judgment failed
    verdict: np.ndarray  # int8 (pairwise)
    order_ab: np.ndarray  # int8: the verdict judged in order AB (original A/B terms)
    order_ba: np.ndarray  # int8: in order BA, already mapped back; -2 when not judged
    label: np.ndarray  # int8 (pairwise), -1 when absent
    score: np.ndarray  # float64 (single answer), nan when failed
    label_value: np.ndarray  # float64 (single answer), nan when absent
    confidence: np.ndarray  # float64, nan when absent
    longer: np.ndarray  # int8: 1 answer A is longer, -1 B is, 0 equal, -2 unknown
    group: np.ndarray  # int32 index into groups
    delimited: np.ndarray  # bool: an answer holds the template's delimiters
    groups: list[str] = field(default_factory=list)
    judge: str | None = None
    template: str | None = None
    vote: str | None = None  # a panel's vote: majority, mean, unanimous
    views: list[View] = field(default_factory=list)
    panel_agreement: np.ndarray | None = None  # float64 per item (a panel's file), nan: null
    # AlpacaEval's judgment.preference (nan: failed) and len(B) - len(A), only in files
    # that have preferences (see ``alpacaeval``)
    preference: np.ndarray | None = None
    delta_len: np.ndarray | None = None
    # Arena-Hard's label5 codes of orders AB and BA (n x 2 int8) and the codes of model_a
    # and model_b (n x 2 int32, -1: none) into model_names, only in files with label5
    label5: np.ndarray | None = None
    pair_models: np.ndarray | None = None
    model_names: list[str] = field(default_factory=list)
    # model_a and model_b of each item (n x 2 int32 codes into game_model_names, -1: none),
    # only in pairwise files whose records name models (``models``)
    game_models: np.ndarray | None = None
    game_model_names: list[str] = field(default_factory=list)
    # each item's model pair (int32 into model_pairs), only in files of several (``pairs``)
    pair_group: np.ndarray | None = None
    model_pairs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the report says beside its figures
    style: StyleData | None = None  # --style-control: the answers' styles (``style``)
    group_fields: GroupFields | None = None  # with --by: the fields no record had (check_by)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> Judgments:
        arrays: dict[str, Any] = {name: take(getattr(self, name), mask) for name in _ARRAYS}
        optional = {name: None if getattr(self, name) is None else getattr(self, name)[mask]
                    for name in ("panel_agreement", "preference", "delta_len", "label5",
                                 "pair_models", "game_models", "pair_group")}
        return replace(self, **arrays, views=[v.subset(mask) for v in self.views], **optional,
                       style=None if self.style is None else self.style.subset(mask))

    def view(self, view: View) -> Judgments:
        """The same items as a panel member or the review judged them (a review: only the
        items it reviewed). Arrays are shared, not copied."""
        columns: dict[str, Any] = {name: view.columns[name] for name in COLUMNS}
        out = replace(self, **columns,
                      judge=view.judge, template=view.template, vote=None, views=[],
                      panel_agreement=None, preference=None, delta_len=None, label5=None,
                      pair_models=None, style=None)
        present = view.columns.get("present")
        return out if present is None else out.subset(present)


_ARRAYS = ("ids", "lines", "failed", "verdict", "order_ab", "order_ba", "label", "score",
           "label_value", "confidence", "longer", "group", "delimited")


_FIELDS = ("id", "label", "answer_a", "answer_b", "verdict", "score", "confidence", "error",
           "orders")
_LABELS = {None: '"A", "B", "tie", "pass" or "fail"', False: '"A", "B" or "tie"',
           True: '"pass" or "fail"'}


class _Reader:
    """Turns records into columns; one instance per file. ``add`` is the hot loop."""

    def __init__(self, name: str, paths: dict[str, str], by: Sequence[str],
                 style: bool = False) -> None:
        self.name = name
        self.paths = paths
        self.mapped = paths != DEFAULT_PATHS
        self.by = list(by)
        self.kinds = Kinds(name)
        self.main = VerdictColumns(name, self.kinds, {
            "judgment": "judgment", **{key: paths[key] for key in
                                       ("verdict", "score", "confidence", "orders")}})
        self.views = ViewReader(name, self.kinds)
        self.preferences = PreferenceColumns(name)
        self.label5 = Label5Columns(name, paths["orders"])
        self.models = ModelColumns()
        self.style = StyleColumns(name, paths["answer_a"], paths["answer_b"]) if style else None
        self.cols: dict[str, array[Any]] = {n: array(t) for n, t in (
            ("ids", "q"), ("lines", "i"), ("label", "b"), ("label_value", "d"),
            ("longer", "b"), ("group", "i"), ("delimited", "b"))}
        self.group_codes: dict[str, int] = {}
        self.groups = GroupFields(self.by)

    def _fields(self, record: dict[str, Any], line: int) -> tuple[Any, ...]:
        if self.mapped:
            return *(get_path(record, self.paths[name]) for name in _FIELDS), \
                record.get("judgment")
        judgment = record.get("judgment")
        if type(judgment) is not dict:
            raise InputError("missing (not a judgment record; run `judgecli judge` first, or "
                             "map the fields with --map)" if judgment is None else
                             "expected an object", file=self.name, line=line, field="judgment")
        get = judgment.get
        score = get("score", MISSING)
        if score is MISSING and "scores" in judgment and "score_a" not in judgment:
            raise InputError("multi-answer judgments are not reported yet", file=self.name,
                             line=line, field="judgment.scores")
        return (record.get("id", MISSING), record.get("label"), _length(record, "answer_a"),
                _length(record, "answer_b"), get("verdict", MISSING), score,
                get("confidence"), get("error"), get("orders"), judgment)

    def add(self, record: dict[str, Any], line: int) -> None:
        file, cols = self.name, self.cols
        raw_id, label, len_a, len_b, verdict, score, confidence, error, orders, judgment = \
            self._fields(record, line)
        self.main.add(line, verdict, score, confidence, error, orders)
        cols["ids"].append(id_hash(line if raw_id is MISSING else raw_id, file=file,
                                   line=line))
        cols["lines"].append(line)
        kinds = self.kinds
        if kinds.kind == PAIR:
            if label is None or label is MISSING:
                cols["label"].append(NO_LABEL)
            else:
                code = CODE.get(label) if type(label) is str else None
                if code is None or (code >= PASS) is not kinds.binary:
                    code = self._label(label, line)
                cols["label"].append(code)
            if self.mapped:
                len_a, len_b = _text_length(len_a), _text_length(len_b)
            cols["longer"].append(LENGTH_UNKNOWN if len_a < 0 or len_b < 0 else
                                  (len_a > len_b) - (len_a < len_b))
            failed = self.main.cols["failed"][-1] != 0
            self.preferences.add(judgment, len_a, len_b, failed, line)
            self.label5.add(orders, record, failed, line)
            if self.style is not None:
                self.style.add(record, line)
        elif label is None or label is MISSING:
            cols["label_value"].append(math.nan)
        else:
            cols["label_value"].append(as_number(label, "a number", file=file, line=line,
                                                 name=self.paths["label"]))
        cols["delimited"].append(self._delimited(record))
        self.views.add(judgment, line)
        self.models.add(record, pairwise=kinds.kind == PAIR)
        if self.by:
            if self.groups.unseen:  # until every --by field has been seen once
                self.groups.look(record)
            key = " / ".join(_group_value(get_path(record, path)) for path in self.by)
            code = self.group_codes.setdefault(key, len(self.group_codes))
            cols["group"].append(code)

    def _delimited(self, record: dict[str, Any]) -> bool:
        judgment = record.get("judgment")
        template = judgment.get("template") if type(judgment) is dict else None
        if self.mapped:
            answers = record_answers(record, get_path(record, self.paths["answer_a"]),
                                     get_path(record, self.paths["answer_b"]))
        else:
            answers = record_answers(record, record.get("answer_a"), record.get("answer_b"))
        return holds_delimiters(answers, template)

    def _label(self, label: Any, line: int) -> int:
        code = CODE.get(label) if type(label) is str else None
        if code is None:
            raise InputError(f"expected {_LABELS[self.kinds.binary]}, got {label!r}",
                             file=self.name, line=line, field=self.paths["label"])
        if (code >= PASS) is not self.kinds.binary:
            self.kinds.family(code >= PASS, line, self.paths["label"], "label")
        return code

    def finish(self) -> Judgments:
        cols: dict[str, Any] = {
            name: np.frombuffer(values, dtype=values.typecode) if len(values) else
            np.empty(0, dtype=values.typecode) for name, values in self.cols.items()}
        n = len(cols["ids"])
        for name, fill in (("label", NO_LABEL), ("longer", LENGTH_UNKNOWN), ("group", 0),
                           ("label_value", math.nan)):
            if len(cols[name]) != n:
                cols[name] = constant(n, fill, cols[name].dtype)
        cols["delimited"] = cols["delimited"].view(bool)  # 0 / 1 bytes, not copied
        groups = list(self.group_codes)
        check_unique(cols["ids"], cols["lines"], self.name)
        cols.update(self.main.finish(n))
        views, agreement, names = self.views.finish(n)
        preference, delta_len = self.preferences.finish()
        label5, pair_models, model_names = self.label5.finish()
        game_models, game_model_names = self.models.finish()
        pair_group, model_pairs = self.models.finish_pairs()
        if pair_group is not None and len(pair_group) != n:
            pair_group = None  # a file that turned out not to be pairwise
        return Judgments(file=self.name, kind=self.kinds.name, groups=groups, **cols,
                         views=views, panel_agreement=agreement, judge=names["judge"],
                         template=names["template"], vote=names["vote"],
                         preference=preference, delta_len=delta_len, label5=label5,
                         pair_models=pair_models, model_names=model_names,
                         game_models=game_models, game_model_names=game_model_names,
                         pair_group=pair_group, model_pairs=model_pairs,
                         style=None if self.style is None else self.style.finish(),
                         notes=[note for note in (self.preferences.note(),) if note],
                         group_fields=self.groups if self.by and n else None)


class GroupFields:
    """Which --by fields no record has had yet, found while loading (no second pass), and
    the fields the first records have, to name them when one is in no record at all."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.unseen = set(paths)  # empty once every field has been seen: one test a record
        self.have: set[str] = set()
        self.sampled = 0

    def look(self, record: dict[str, Any]) -> None:
        for path in list(self.unseen):
            if get_path(record, path) is not MISSING:
                self.unseen.discard(path)
        if self.unseen and self.sampled < FIELD_SAMPLE:
            self.sampled += 1
            self.have.update(fields_near(record, self.unseen))


def check_by(sets: Sequence[Judgments]) -> None:
    """A --by field that no record of any file has is a typo, not one group of "(none)"
    (a field that only some files have makes that group in the others)."""
    read = [(j.file, j.group_fields) for j in sets if j.group_fields is not None]
    if not read:
        return
    for path in read[0][1].paths:
        if all(path in fields.unseen for _, fields in read):
            have = set().union(*(fields.have for _, fields in read))
            raise InputError(f"--by: no record has it; the records have {named(have)}",
                             file=", ".join(file for file, _ in read), field=path)


def fields_near(record: dict[str, Any], paths: set[str]) -> set[str]:
    """The fields of ``record`` where a --by path could have meant one: its own, its
    judgment's, and those beside each dotted path's last part."""
    out: set[str] = set()
    for parent in {"", "judgment"} | {path.rpartition(".")[0] for path in paths}:
        value = record if not parent else get_path(record, parent)
        if type(value) is dict:
            out.update(f"{parent}.{key}" if parent else key for key in value)
    return out


def named(fields: set[str]) -> str:
    """At most FIELDS_NAMED field names, sorted, a long one cut short."""
    shown = [name if len(name) <= 40 else name[:37] + "..." for name in sorted(fields)]
    more = len(shown) - FIELDS_NAMED
    return ", ".join(shown[:FIELDS_NAMED]) + (f" and {more} more" if more > 0 else "") \
        if shown else "no fields"


def _text_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else -1


def _group_value(value: Any) -> str:
    if value is MISSING or value is None:
        return MISSING_GROUP
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def check_unique(ids: np.ndarray, lines: np.ndarray, file: str) -> None:
    """Name the first line whose id an earlier line already had. Sorting a copy of the ids
    costs 8 bytes an item; the lines are looked up only when there is a repeat."""
    if len(ids) < 2:
        return
    ordered = np.sort(ids)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if len(repeated):
        # The first line that repeats an earlier line's id: among the items whose id repeats,
        # sorted by id and then line, the smallest line that follows one with the same id.
        where = np.flatnonzero(np.isin(ids, repeated))
        same_ids, their_lines = ids[where], lines[where]
        order = np.lexsort((their_lines, same_ids))
        same_ids, their_lines = same_ids[order], their_lines[order]
        later = their_lines[1:][same_ids[1:] == same_ids[:-1]]
        raise InputError("duplicate id", file=file, line=int(later.min()), field="id")


def iter_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    name = display_name(path)
    loads = _fast_loads
    for line, raw in iter_raw(path):
        try:
            record = loads(raw)
        except ValueError:
            record = parse_line(raw, file=name, line=line)  # raises InputError, or blank
            if record is None:
                continue
        if type(record) is not dict:
            record = parse_line(raw, file=name, line=line)  # names what it is instead
        yield line, record


def read_judgments(path: str, *, mapping: dict[str, str] | None = None,
                   by: Sequence[str] = (), style: bool = False) -> Judgments:
    """Read one judgment file (or ``-`` for stdin) into columns; ``style``: with the
    answers' styles (``--style-control``)."""
    reader = _Reader(display_name(path), field_paths(mapping or {}), by, style)
    for line, record in iter_records(path):
        reader.add(record, line)
    return reader.finish()


def shared_items(sets: Sequence[Judgments]) -> np.ndarray:
    """Ids present in every file (several files are compared on the same items)."""
    if not sets:
        raise JudgecliError("no judgment files given")
    common = sets[0].ids
    for other in sets[1:]:
        common = np.intersect1d(common, other.ids, assume_unique=True)
    return common
