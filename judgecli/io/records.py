"""The input record format: validation, known layouts and --map renames.

An input line is one JSON object. Its kind follows from its fields:

* pairwise: ``question``, ``answer_a``, ``answer_b`` (or ``turns`` of such objects);
* single answer: ``question``, ``answer`` (or ``turns`` of such objects);
* multi answer: ``question``, ``answers`` (a list of strings).

Optional: ``id`` (else the 1-based line number), ``reference``, ``input`` (PandaLM's
context section), gold ``label``. Every other field passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .jsonl import display_name, iter_raw, parse_line

PAIR, SINGLE, MULTI = "pair", "single", "multi"
PAIR_LABELS = ("A", "B", "tie")

# Layouts of published judges' own data files, recognised without --map (DST <- SRC).
# JudgeLM: judgelm/data/JudgeLM/*.jsonl; PandaLM: data/testset-v1.json rows.
KNOWN_LAYOUTS: dict[str, dict[str, str]] = {
    "judgelm": {"id": "question_id", "question": "question_body",
                "answer_a": "answer1_body", "answer_b": "answer2_body"},
    "pandalm": {"question": "instruction", "answer_a": "response1", "answer_b": "response2"},
}


@dataclass(frozen=True)
class Turn:
    question: str
    answer_a: str | None = None
    answer_b: str | None = None
    answer: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Item:
    """One validated input record, ready to render."""

    id: Any
    line: int
    kind: str
    question: str
    record: dict[str, Any] = field(repr=False)
    answer_a: str | None = None
    answer_b: str | None = None
    answer: str | None = None
    answers: tuple[str, ...] = ()
    reference: str | None = None
    input: str | None = None
    turns: tuple[Turn, ...] = ()
    label: Any = None
    file: str = ""


def parse_map(specs: Sequence[str]) -> dict[str, str]:
    """Parse ``--map DST=SRC`` options; SRC may be a dotted path such as ``choices.0.text``."""
    mapping: dict[str, str] = {}
    for spec in specs:
        dst, sep, src = spec.partition("=")
        if not sep or not dst.strip() or not src.strip():
            raise InputError(f"--map expects DST=SRC, got '{spec}'")
        mapping[dst.strip()] = src.strip()
    return mapping


_ABSENT = object()


def lookup(record: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path (``outputs.1.text``, ``judgment.orders.-1.verdict``: keys
    of objects, indices of lists), or ``default`` where the record has none."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _ABSENT)
            if value is _ABSENT:
                return default
        elif isinstance(value, list) and part.lstrip("-").isdigit() and \
                -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


def has_path(record: Any, path: str) -> bool:
    return lookup(record, path, _ABSENT) is not _ABSENT


def apply_map(record: dict[str, Any], mapping: dict[str, str], *, file: str,
              line: int) -> dict[str, Any]:
    """Rename fields: the user's --map first, else a recognised layout."""
    if not mapping:
        for layout in KNOWN_LAYOUTS.values():
            if "question" not in record and all(
                    src in record for dst, src in layout.items() if dst != "id"):
                mapping = layout
                break
    if not mapping:
        return record
    out = dict(record)
    for dst, src in mapping.items():
        value = lookup(record, src, _ABSENT)
        if value is _ABSENT:
            if mapping is not KNOWN_LAYOUTS["judgelm"] or dst != "id":
                raise InputError(f"missing (mapped from '{src}')", file=file, line=line,
                                 field=src)
            continue
        if "." not in src and src != dst:
            out.pop(src, None)
        out[dst] = value
    return out


def _text(record: dict[str, Any], key: str, *, where: tuple[str, int], required: bool,
          prefix: str = "") -> str | None:
    file, line = where
    if key not in record or record[key] is None:
        if required:
            raise InputError("missing", file=file, line=line, field=prefix + key)
        return None
    value = record[key]
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", file=file,
                         line=line, field=prefix + key)
    return value


def _turns(record: dict[str, Any], where: tuple[str, int]) -> tuple[str, tuple[Turn, ...]]:
    file, line = where
    raw = record["turns"]
    if not isinstance(raw, list) or not raw:
        raise InputError("expected a non-empty list of turns", file=file, line=line,
                         field="turns")
    turns = []
    kind = None
    for number, turn in enumerate(raw):
        name = f"turns[{number}]."
        if not isinstance(turn, dict):
            raise InputError("expected an object", file=file, line=line, field=name[:-1])
        this = PAIR if "answer_a" in turn or "answer_b" in turn else SINGLE
        if kind is not None and this != kind:
            raise InputError("mixes pairwise and single-answer turns", file=file, line=line,
                             field=name[:-1])
        kind = this
        pair = this == PAIR
        turns.append(Turn(
            question=_text(turn, "question", where=where, required=True, prefix=name) or "",
            answer_a=_text(turn, "answer_a", where=where, required=pair, prefix=name),
            answer_b=_text(turn, "answer_b", where=where, required=pair, prefix=name),
            answer=_text(turn, "answer", where=where, required=not pair, prefix=name),
            reference=_text(turn, "reference", where=where, required=False, prefix=name),
        ))
    assert kind is not None
    return kind, tuple(turns)


def _label(record: dict[str, Any], kind: str, where: tuple[str, int]) -> Any:
    file, line = where
    label = record.get("label")
    if label is None:
        return None
    if kind == PAIR:
        if label not in PAIR_LABELS:
            raise InputError(f"expected \"A\", \"B\" or \"tie\", got {label!r}", file=file,
                             line=line, field="label")
    elif label in ("pass", "fail"):
        pass  # a binary (pass/fail) judgment's gold label
    elif isinstance(label, bool) or not isinstance(label, (int, float)):
        raise InputError(f"expected a number, \"pass\" or \"fail\", got {label!r}",
                         file=file, line=line, field="label")
    return label


def to_item(record: dict[str, Any], *, file: str, line: int) -> Item:
    """Validate one (already mapped) record and build its Item."""
    where = (file, line)
    if "id" in record:
        item_id = record["id"]
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
            raise InputError(f"expected a string or an integer, got {item_id!r}", file=file,
                             line=line, field="id")
    else:
        item_id = line
    turns: tuple[Turn, ...] = ()
    answers: tuple[str, ...] = ()
    if "turns" in record and record["turns"] is not None:
        kind, turns = _turns(record, where)
        question = _text(record, "question", where=where, required=False) or turns[0].question
    else:
        if "answers" in record:
            kind = MULTI
            raw = record["answers"]
            if not isinstance(raw, list) or len(raw) < 2 or \
                    not all(isinstance(a, str) for a in raw):
                raise InputError("expected a list of at least two strings", file=file,
                                 line=line, field="answers")
            answers = tuple(raw)
        elif "answer_a" in record or "answer_b" in record:
            kind = PAIR
        elif "answer" in record:
            kind = SINGLE
        else:
            raise InputError("missing (a record needs answer_a and answer_b, answer, "
                             "or answers)", file=file, line=line, field="answer_a")
        question = _text(record, "question", where=where, required=True) or ""
    pair = kind == PAIR and not turns
    return Item(
        id=item_id, line=line, kind=kind, question=question, record=record,
        answer_a=_text(record, "answer_a", where=where, required=pair),
        answer_b=_text(record, "answer_b", where=where, required=pair),
        answer=_text(record, "answer", where=where, required=kind == SINGLE and not turns),
        answers=answers,
        reference=_text(record, "reference", where=where, required=False),
        input=_text(record, "input", where=where, required=False),
        turns=turns,
        label=_label(record, kind, where),
        file=file,
    )


def read_items(path: str, mapping: dict[str, str] | None = None,
               on_invalid: Callable[[int, bytes, InputError], None] | None = None,
               ) -> Iterator[Item]:
    """Yield validated items lazily. A duplicate id is an error.

    ``on_invalid(line, raw_line, error)``, when given, receives bad lines instead of
    stopping the run (``--skip-invalid``).
    """
    from .idset import IdSet  # numpy: imported when items are read, not at `--help`

    name = display_name(path)
    seen = IdSet()
    for line, raw in iter_raw(path):
        try:
            record = parse_line(raw, file=name, line=line)
            if record is None:
                continue
            item = to_item(apply_map(record, mapping or {}, file=name, line=line), file=name,
                           line=line)
            if not seen.add(item.id):  # the last check: only a valid item's id is kept
                raise InputError(f"duplicate id {item.id!r}", file=name, line=line, field="id")
        except InputError as exc:
            if on_invalid is None:
                raise
            on_invalid(line, raw, exc)
            continue
        yield item
