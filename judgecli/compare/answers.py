"""Answer files for ``judgecli compare``: known layouts, and the join across files.

An answer file holds one record per prompt with an id and an answer. Layouts recognised:

* judgecli's own: ``id``, ``question``, ``answer`` (optional ``model``, ``reference``,
  ``category``);
* JudgeLM answers (judgelm/data/JudgeLM/answers/*.jsonl): ``question_id``,
  ``question_body``, ``text``, ``model``;
* FastChat / MT-Bench model answers (fastchat/llm_judge/data/mt_bench/model_answer/*.jsonl):
  ``question_id``, ``model_id``, ``choices[0].turns`` (the first turn is judged), with the
  questions from ``--questions question.jsonl`` (``question_id``, ``turns``, ``category``);
* AlpacaEval outputs (a JSON list or JSONL of ``instruction``, ``output``, ``generator``),
  joined by instruction text.

``--map DST=SRC`` renames fields for anything else. Files are joined by id, or by question
text where no file has ids.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, JudgecliError
from ..io.jsonl import display_name, iter_lines, iter_raw, parse_line, read_json_list
from ..io.records import apply_map, has_path

# DST <- SRC; tried in order, the first whose fields are all present wins.
LAYOUTS: list[tuple[str, dict[str, str]]] = [
    ("judgecli", {"answer": "answer"}),
    ("judgelm", {"id": "question_id", "question": "question_body", "answer": "text"}),
    ("fastchat", {"id": "question_id", "answer": "choices.0.turns.0", "model": "model_id"}),
    ("alpacaeval", {"question": "instruction", "answer": "output", "model": "generator"}),
]


class JoinError(JudgecliError):
    """Answer files that do not line up prompt for prompt."""


@dataclass(frozen=True)
class Answer:
    key: Any  # the id, or the question text when joining by question
    id: Any
    question: str | None
    answer: str
    model: str
    line: int
    extra: dict[str, Any]


# --skip-invalid: receives (line, the raw line or record as text, the error) of a bad record.
Rejects = Callable[[int, str, InputError], None]


def _records(path: str, rejects: Rejects | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """JSONL, or a JSON list (AlpacaEval writes model_outputs.json as a list)."""
    if path != "-" and path.endswith(".json"):
        yield from enumerate(read_json_list(path), start=1)
        return
    if rejects is None:
        yield from iter_lines(path)
        return
    name = display_name(path)
    for line, raw in iter_raw(path):
        try:
            record = parse_line(raw, file=name, line=line)
        except InputError as exc:
            rejects(line, raw.decode("utf-8", "replace").rstrip("\r\n"), exc)
            continue
        if record is not None:
            yield line, record


def _layout(record: dict[str, Any], mapping: dict[str, str]) -> dict[str, str]:
    if mapping:
        return mapping
    for _, layout in LAYOUTS:
        if all(has_path(record, src) for src in layout.values()
               if src not in ("model_id", "generator")):
            return {dst: src for dst, src in layout.items() if dst != src}
    return {}


def read_answers(path: str, mapping: dict[str, str] | None = None,
                 questions: dict[Any, dict[str, Any]] | None = None, *,
                 rejects: Rejects | None = None) -> list[Answer]:
    """Read one answer file into Answers (not yet keyed for the join); ``rejects``
    receives the bad records instead of stopping (``--skip-invalid``)."""
    name = display_name(path)
    default_model = Path(path).stem if path != "-" else "stdin"
    out = []
    for line, raw in _records(path, rejects):
        try:
            out.append(_answer(raw, line, name, default_model, mapping, questions))
        except InputError as exc:
            if rejects is None:
                raise
            rejects(line, json.dumps(raw, ensure_ascii=False), exc)
    return out


def _answer(raw: dict[str, Any], line: int, name: str, default_model: str,
            mapping: dict[str, str] | None,
            questions: dict[Any, dict[str, Any]] | None) -> Answer:
    layout = _layout(raw, mapping or {})
    layout = {d: s for d, s in layout.items() if has_path(raw, s) or d not in ("model",)}
    record = apply_map(raw, layout, file=name, line=line) if layout else dict(raw)
    answer = record.get("answer")
    if not isinstance(answer, str):
        field = "answer" if "answer" in record else (layout.get("answer") or "answer")
        raise InputError("missing or not a string (an answer file needs an answer per "
                         "record: answer, text, output or choices[0].turns)", file=name,
                         line=line, field=field)
    item_id = record.get("id")
    if item_id is not None and (isinstance(item_id, bool) or
                                not isinstance(item_id, (str, int))):
        raise InputError(f"expected a string or an integer, got {item_id!r}", file=name,
                         line=line, field="id")
    question = record.get("question")
    extra = {k: record[k] for k in ("reference", "category") if record.get(k) is not None}
    if questions is not None and item_id in questions:
        q = questions[item_id]
        question = question or q.get("question")
        for k in ("reference", "category"):
            if q.get(k) is not None:
                extra.setdefault(k, q[k])
    if question is not None and not isinstance(question, str):
        raise InputError("expected a string", file=name, line=line, field="question")
    # Whatever the layout, a record's model name is read where any of them keeps it.
    model = next((record[k] for k in ("model", "generator", "model_id")
                  if isinstance(record.get(k), (str, int)) and record.get(k) != ""),
                 default_model)
    return Answer(key=None, id=item_id, question=question, answer=answer,
                  model=str(model), line=line, extra=extra)


def read_questions(path: str) -> dict[Any, dict[str, Any]]:
    """MT-Bench question.jsonl: question_id -> {question (first turn), category, reference}."""
    out = {}
    for line, record in iter_lines(path):
        if "question_id" not in record:
            raise InputError("missing", file=display_name(path), line=line, field="question_id")
        turns = record.get("turns")
        question = turns[0] if isinstance(turns, list) and turns else record.get("question")
        reference = record.get("reference")
        out[record["question_id"]] = {
            "question": question, "category": record.get("category"),
            "reference": reference[0] if isinstance(reference, list) and reference else reference,
        }
    return out


def _examples(values: list[Any], k: int = 3) -> str:
    shown = ", ".join(repr(v)[:60] for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


def join(files: list[str], answers: list[list[Answer]], *, allow_missing: bool = False,
         ) -> tuple[list[Any], list[dict[Any, Answer]]]:
    """Key every file's answers by id (or question text) and check that they line up.

    Returns the common keys in the first file's order and one key -> Answer map per file.
    """
    by_id = all(a.id is not None for file in answers for a in file)
    keyed: list[dict[Any, Answer]] = []
    for path, file in zip(files, answers, strict=True):
        if not file:
            raise JoinError(f"{path}: no answers in the file")
        keys = [a.id if by_id else a.question for a in file]
        if not by_id and any(k is None for k in keys):
            raise JoinError(f"{path}: records have neither an id nor a question to join on")
        dupes = [k for k, n in Counter(keys).items() if n > 1]
        if dupes:
            what = "id" if by_id else "question"
            raise JoinError(f"{path}: {len(dupes)} duplicate {what}(s), e.g. {_examples(dupes)}")
        keyed.append({k: a for k, a in zip(keys, file, strict=True)})
    common = [k for k in keyed[0] if all(k in other for other in keyed[1:])]
    every = set().union(*(set(m) for m in keyed))
    if len(common) < len(every):
        lines = []
        for path, m in zip(files, keyed, strict=True):
            missing = [k for k in every if k not in m]
            if missing:
                shown = _examples(sorted(missing, key=str))
                lines.append(f"{path} lacks {len(missing)} (e.g. {shown})")
        message = (f"{len(every) - len(common)} prompt(s) are not in every file: "
                   + "; ".join(lines))
        if not allow_missing:
            raise JoinError(message + "; --allow-missing compares the common prompts")
    if not common:
        raise JoinError("the files have no prompt in common")
    if by_id:
        differ = [k for k in common if len({m[k].question for m in keyed
                                            if m[k].question is not None}) > 1]
        if differ:
            raise JoinError(f"{len(differ)} joined prompt(s) have different questions in "
                            f"different files, e.g. id {_examples(differ)}")
        missing_q = [k for k in common if all(m[k].question is None for m in keyed)]
        if missing_q:
            raise JoinError(f"{len(missing_q)} prompt(s) have no question text in any file "
                            f"(e.g. id {_examples(missing_q)}); for MT-Bench answers give "
                            "--questions question.jsonl")
    return common, keyed
