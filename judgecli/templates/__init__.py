"""Judge prompt templates: data files in ``prompts/``, validated on load, rendered exactly.

A template file is one JSON object:

* ``name``, ``description``, ``source`` (where the text comes from, for a reproduced judge);
* ``kind``: ``pair``, ``single`` or ``multi``; ``turns``: 1 (default) or 2;
* ``style``: ``completion`` with ``text`` (the whole prompt a completion model receives),
  ``chat`` with ``system`` and ``user`` (sent as two chat messages), or ``chatml`` with
  ``text`` in AlpacaEval's ``<|im_start|>role ... <|im_end|>`` layout (its messages);
* ``fill``: ``format`` (default, ``str.format``) or ``replace`` (AlpacaEval's: literal braces
  stay literal); see :mod:`judgecli.templates.fill`;
* placeholders: the item's variables (``{question}``, ``{answer_a}``, ...) and any other field
  of the input record (``{rubric}``), shown as written;
* ``bind``: placeholder -> where its value comes from: an item variable or record field, where
  a template's own names differ from ours (JudgeLM's ``answer_1`` is our ``answer_a``), fixed
  ``{"text": ...}``, or a bundled ``{"rubric": NAME}`` (``prompts/rubrics/NAME.txt``);
  ``requires``: item or record fields that must be set (checked before any judging);
* ``base``: another template (a bundled name, or a path beside this file) whose keys this one
  starts from; its own keys replace them, ``bind`` entries are added to the base's;
* ``text_if_empty``: ``{field: text}`` used instead of ``text`` when that field is empty;
* ``answer_filter``: ``{"remove": [tokens]}`` stripped from answers (PandaLM does this);
* ``answer_block``: for ``multi``, how each answer is shown (``{i}``, ``{answer}``);
* ``output``: ``{"parser": NAME, "count": N | "answers"}``, how the judge's text is read, or
  ``{"parser": {...}}``, a parser declared as data (:mod:`judgecli.parsers.specs`);
* ``preference``: ``"alpacaeval"``: the verdict probabilities are AlpacaEval's, whose
  preference is ``confidence.alpacaeval_preference`` of the orders' ``probs``;
* ``score_line``: ``{"prefix", "values", "sep", "end"}``, the line the judge writes first,
  which makes ``--mode score`` possible.

Values (answers with braces, ``[System]``, CRLF, emoji) are inserted verbatim, exactly once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, TemplateError
from ..io.records import MULTI, PAIR, SINGLE, Item
from ..parsers import PARSERS
from ..parsers import specs as parser_specs
from . import rubrics
from .files import available, bundled_path, read_json, read_rubric, with_base
from .fill import (
    FILLS,
    Source,
    chatml_messages,
    check_text,
    fill_text,
    placeholders,
    source_from_json,
)

KINDS = (PAIR, SINGLE, MULTI)
STYLES = ("completion", "chat", "chatml")
PREFERENCES = ("alpacaeval",)
ORDERS = ("AB", "BA")

# The number words JudgeLM's multi-answer script uses (gen_model_judgement_multi.py num2words).
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
                14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen",
                18: "eighteen", 19: "nineteen"}

_KEYS = {"name", "description", "source", "kind", "turns", "style", "text", "system", "user",
         "bind", "requires", "text_if_empty", "answer_filter", "answer_block", "output",
         "score_line", "fill", "base", "preference"}
_ITEM_FIELDS = set(Item.__dataclass_fields__) - {"record", "line", "file", "kind"}
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True)
class ScoreLine:
    """The first line a judge writes: ``prefix v1 sep v2 ... end`` with values from a set."""

    values: tuple[str, ...]
    prefix: str = ""
    sep: str = " "
    end: str = "\n"


@dataclass(frozen=True)
class Prompt:
    """What one judge call receives: a completion prompt or chat messages."""

    text: str | None = None
    messages: tuple[dict[str, str], ...] | None = None


@dataclass(frozen=True)
class Template:
    name: str
    kind: str
    style: str
    parser: str
    description: str = ""
    source: str = ""
    turns: int = 1
    text: str = ""
    system: str = ""
    user: str = ""
    bind: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    text_if_empty: dict[str, str] = field(default_factory=dict)
    remove_tokens: tuple[str, ...] = ()
    answer_block: str = ""
    count: int | str | None = None
    score_line: ScoreLine | None = None
    path: str = ""
    fill: str = "format"
    sources: dict[str, Source] = field(default_factory=dict)  # bind, read
    messages: tuple[tuple[str, str], ...] = ()  # chatml: (role, text) of each message
    preference: str | None = None

    # -- rendering -------------------------------------------------------------------------
    def render(self, item: Item, order: str = "AB",
               extra: dict[str, str] | None = None) -> Prompt:
        """The exact prompt for ``item`` with its answers shown in ``order``.

        ``extra``: more placeholders' values (a review template's ``first_verdict`` and
        ``first_judgment``, which come from another judge, not from the item)."""
        self.check_item(item)
        variables = self._variables(item, order)
        if extra:
            clash = set(extra) & set(variables)
            if clash:
                raise ValueError(f"extra placeholders may not replace the item's "
                                 f"{', '.join(sorted(clash))}")
            variables.update(extra)
        if self.style == "chat":
            return Prompt(messages=(
                {"role": "system", "content": self._fill(self.system, variables, item)},
                {"role": "user", "content": self._fill(self.user, variables, item)},
            ))
        if self.style == "chatml":
            # AlpacaEval strips each message's content once the prompt is filled.
            return Prompt(messages=tuple(
                {"role": role, "content": self._fill(text, variables, item).strip()}
                for role, text in self.messages))
        text = self.text
        for key, alternative in self.text_if_empty.items():
            if not variables.get(key):
                text = alternative
        return Prompt(text=self._fill(text, variables, item))

    def check_item(self, item: Item) -> None:
        file = item.file
        if item.kind != self.kind:
            raise InputError(f"a {_KIND_NAMES[item.kind]} item cannot be judged with "
                             f"template '{self.name}', which is {_KIND_NAMES[self.kind]}",
                             file=file, line=item.line)
        if self.turns != max(1, len(item.turns)):
            need = "'turns' with two turns" if self.turns == 2 else "no 'turns'"
            raise InputError(f"template '{self.name}' needs {need}", file=file,
                             line=item.line, field="turns")
        for name in self.requires:
            if name in self.sources and self.sources[name].kind != "field":
                continue  # bound to fixed text (a bundled rubric): nothing to find
            if name not in _ITEM_FIELDS:
                present = item.record.get(name)  # a field of the record (a rubric)
            else:
                present = getattr(item, name, None) if not item.turns else all(
                    getattr(t, name, None) is not None for t in item.turns)
            if present is None or present is False:
                hint = " (or give --rubric NAME)" if name == rubrics.FIELD else ""
                raise InputError(f"missing; template '{self.name}' needs it{hint}", file=file,
                                 line=item.line, field=name)

    def _clean(self, answer: str) -> str:
        if not self.remove_tokens:
            return answer
        # PandaLM: pattern.sub("", resp.strip()).strip()
        return _removal_pattern(self.remove_tokens).sub("", answer.strip()).strip()

    def _variables(self, item: Item, order: str) -> dict[str, Any]:
        if order not in ORDERS:
            raise ValueError(f"order must be AB or BA, not {order!r}")
        swap = order == "BA" and item.kind == PAIR
        v: dict[str, Any] = {"question": item.question, "input": item.input or "",
                             "reference": item.reference}
        if item.kind == PAIR and not item.turns:
            a, b = self._clean(item.answer_a or ""), self._clean(item.answer_b or "")
            v["answer_a"], v["answer_b"] = (b, a) if swap else (a, b)
        elif item.kind == SINGLE and not item.turns:
            v["answer"] = self._clean(item.answer or "")
        elif item.kind == MULTI:
            answers = [self._clean(a) for a in item.answers]
            n = len(answers)
            if n > max(NUMBER_WORDS):
                raise InputError(f"{n} answers; JudgeLM's multi-answer prompt names at most "
                                 f"{max(NUMBER_WORDS)}", file=item.file, line=item.line,
                                 field="answers")
            v["answers"] = "".join(self.answer_block.format(i=i, answer=a)
                                   for i, a in enumerate(answers, start=1))
            v["n_words"] = NUMBER_WORDS[n]
            v["assistant_list"] = ", ".join(str(i) for i in range(1, n)) + f" and {n}"
        for number, turn in enumerate(item.turns, start=1):
            v[f"question_{number}"] = turn.question
            v[f"ref_answer_{number}"] = turn.reference
            if item.kind == PAIR:
                a, b = self._clean(turn.answer_a or ""), self._clean(turn.answer_b or "")
                v[f"answer_a_{number}"], v[f"answer_b_{number}"] = (b, a) if swap else (a, b)
            else:
                v[f"answer_{number}"] = self._clean(turn.answer or "")
        return v

    def _fill(self, text: str, variables: dict[str, Any], item: Item) -> str:
        values: dict[str, str] = {}
        for placeholder in placeholders(text, self.fill):
            source = self.sources.get(placeholder) or Source("field", placeholder)
            if source.kind == "field" and placeholder == rubrics.FIELD and \
                    (named := rubrics.named(item.record.get(source.value))) is not None:
                source = rubrics.source_for(self, named)  # a record naming a bundled rubric
            if source.kind == "text":
                values[placeholder] = source.value
            elif source.kind == "format":  # built from record fields (Prometheus's rubric)
                values[placeholder] = source.value.format_map(
                    {name: self._field(name, name, variables, item)
                     for name in placeholders(source.value)})
            else:
                values[placeholder] = self._field(placeholder, source.value, variables, item)
        return fill_text(text, values, self.fill)

    def _field(self, placeholder: str, name: str, variables: dict[str, Any],
               item: Item) -> str:
        """An item variable (answers in the order shown), else a field of the record."""
        value = variables[name] if name in variables else item.record.get(name)
        if value is None:
            raise InputError(f"missing; template '{self.name}' shows it as {{{placeholder}}}",
                             file=item.file, line=item.line, field=name)
        if isinstance(value, str):
            return value
        if isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool):
            return str(value)
        raise InputError(f"expected a string, got {type(value).__name__}; template "
                         f"'{self.name}' shows it as {{{placeholder}}}", file=item.file,
                         line=item.line, field=name)

    # -- output ----------------------------------------------------------------------------
    @property
    def shows_reference(self) -> bool:
        """Whether the prompt shows the item's reference answer (directly or bound)."""
        texts = [self.text, self.system, self.user, self.answer_block,
                 *self.text_if_empty.values()]
        names = {self.bind.get(n, n) for t in texts for n in placeholders(t, self.fill)}
        return any(n == "reference" or n.startswith("ref_answer") for n in names)

    def expected_count(self, item: Item) -> int | None:
        """How many scores the judge writes for this item (None: the template has none)."""
        if self.count == "answers":
            return len(item.answers)
        return self.count if isinstance(self.count, int) else None


_KIND_NAMES = {PAIR: "pairwise", SINGLE: "single-answer", MULTI: "multi-answer"}


@functools.lru_cache(maxsize=64)
def _removal_pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    # Compiled once per template, not once per answer.
    return re.compile("|".join(re.escape(token) for token in tokens))


def default_template(item: Item) -> tuple[str, str]:
    """The bundled template for an item no ``--template`` names, and why: JudgeLM's for
    pairwise, single-answer (which needs a reference) and multi-answer items, MT-Bench's
    where JudgeLM has none (multi-turn items, single answers without a reference); the
    ``-ref`` variant wherever the item carries a reference, since a judge shown the
    reference agrees with people far more often (on the bundled examples 1.00 against 0.22)."""
    ref = item.reference is not None or any(t.reference is not None for t in item.turns)
    if item.turns:
        name = f"mtbench-{'pair' if item.kind == PAIR else 'single'}" \
               f"{'-ref' if ref else ''}-multiturn"
        return name, "multi-turn items" + (" with a reference" if ref else "")
    if item.kind == SINGLE and not ref:
        return "mtbench-single", "single answers without a reference"
    base = {PAIR: "judgelm-pair", SINGLE: "judgelm-single", MULTI: "judgelm-multi"}[item.kind]
    kinds = {PAIR: "pairwise", SINGLE: "single-answer", MULTI: "multi-answer"}[item.kind]
    return (f"{base}-ref", f"{kinds} items with a reference") if ref else \
        (base, f"{kinds} items")


def load_template(name_or_path: str) -> Template:
    """Load a bundled template by name, or a user's template file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".json" or path.exists()):
        found = bundled_path(name_or_path)
        if found is None:
            raise TemplateError(f"unknown template '{name_or_path}'; bundled: "
                                f"{', '.join(available())}; or give a path to a .json file")
        path = found
    return template_from_dict(read_json(path), path=str(path))


def template_from_dict(data: Any, *, path: str = "<template>") -> Template:
    """Validate a template's data and build it; every problem names the file and key."""
    def fail(message: str) -> TemplateError:
        return TemplateError(f"{path}: {message}")

    if not isinstance(data, dict):
        raise fail("a template is a JSON object")
    if "base" in data:
        data = with_base(data, path)
    unknown = set(data) - _KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("name", "kind", "style", "output"):
        if key not in data:
            raise fail(f"missing key '{key}'")
    if data["kind"] not in KINDS:
        raise fail(f"'kind' must be one of {', '.join(KINDS)}")
    if data["style"] not in STYLES:
        raise fail(f"'style' must be one of {', '.join(STYLES)}")
    fill = data.get("fill", "format")
    if fill not in FILLS:
        raise fail(f"'fill' must be one of {', '.join(FILLS)}")
    texts = ("system", "user") if data["style"] == "chat" else ("text",)
    messages: tuple[tuple[str, str], ...] = ()
    for key in texts:
        if not isinstance(data.get(key), str) or not data[key]:
            raise fail(f"a {data['style']} template needs a non-empty string '{key}'")
        try:
            if data["style"] == "chatml":
                messages = chatml_messages(data[key])
            for _, text in messages or ((key, data[key]),):
                check_text(text, fill)
        except TemplateError as exc:
            raise fail(f"'{key}': {exc}") from None
    output = data["output"]
    if not isinstance(output, dict) or set(output) - {"parser", "count"}:
        raise fail("'output' must be an object with 'parser' (and 'count')")
    parser = output.get("parser")
    if isinstance(parser, dict):
        try:
            parser = parser_specs.encode(parser)
        except parser_specs.SpecError as exc:
            raise fail(str(exc)) from None
        kind = parser_specs.decode(parser).kind
        if (kind == "verdict") != (data["kind"] == PAIR) or data["kind"] == MULTI:
            raise fail(f"'output.parser.kind' {kind} does not suit a {data['kind']} template "
                       "(verdict: pair; score: single)")
    elif parser not in PARSERS:
        raise fail(f"'output.parser' must be one of {', '.join(PARSERS)}, or an object "
                   "(a parser declared as data)")
    count = output.get("count")
    if parser == "scores" and not (count == "answers" or (
            isinstance(count, int) and not isinstance(count, bool) and count >= 1)):
        raise fail("'output.count' must be a positive integer or \"answers\"")
    score_line = None
    if "score_line" in data:
        raw = data["score_line"]
        if not isinstance(raw, dict) or not isinstance(raw.get("values"), list) or \
                not raw["values"] or not all(isinstance(v, str) and v for v in raw["values"]):
            raise fail("'score_line.values' must be a non-empty list of strings")
        score_line = ScoreLine(values=tuple(raw["values"]), prefix=raw.get("prefix", ""),
                               sep=raw.get("sep", " "), end=raw.get("end", "\n"))
    turns = data.get("turns", 1)
    if turns not in (1, 2):
        raise fail("'turns' must be 1 or 2")
    if data["kind"] == MULTI and "{answer}" not in data.get("answer_block", ""):
        raise fail("a multi-answer template needs 'answer_block' with {answer}")
    for key in ("bind", "text_if_empty"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and (isinstance(v, str) or key == "bind")
                for k, v in value.items()):
            raise fail(f"'{key}' must map strings to strings")
    sources = {}
    for key, raw in data.get("bind", {}).items():
        try:
            sources[key] = source_from_json(raw, read_rubric)
        except (ValueError, TemplateError) as exc:
            raise fail(f"'bind.{key}' {exc}") from None
    requires = data.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) and r for r in requires):
        raise fail("'requires' must be a list of field names")
    preference = data.get("preference")
    if preference is not None and (preference not in PREFERENCES or data["kind"] != PAIR):
        raise fail(f"'preference' must be one of {', '.join(PREFERENCES)} (pairwise only)")
    answer_filter = data.get("answer_filter", {})
    if not isinstance(answer_filter, dict) or set(answer_filter) - {"remove"}:
        raise fail("'answer_filter' must be an object with one key, 'remove'")
    remove = answer_filter.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(r, str) and r for r in remove):
        raise fail("'answer_filter.remove' must be a list of non-empty strings (tokens removed "
                   "from the answers)")
    return Template(
        name=str(data["name"]), kind=data["kind"], style=data["style"],
        parser=parser, description=data.get("description", ""),
        source=data.get("source", ""), turns=turns, text=data.get("text", ""),
        system=data.get("system", ""), user=data.get("user", ""),
        bind={k: s.value for k, s in sources.items() if s.kind == "field"},
        requires=tuple(requires), text_if_empty=dict(data.get("text_if_empty", {})),
        remove_tokens=tuple(remove), answer_block=data.get("answer_block", ""),
        count=count, score_line=score_line, path=path, fill=fill, sources=sources,
        messages=messages, preference=preference,
    )
