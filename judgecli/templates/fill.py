"""Filling a template's text: the two placeholder styles, where each value comes from, and
AlpacaEval's ChatML prompt files split into messages.

``fill: "format"`` (the default) is Python's ``str.format``, as JudgeLM, FastChat, Prometheus,
Auto-J and Arena-Hard fill their prompts: ``{name}`` is a placeholder, ``{{`` and ``}}`` are
literal braces. ``fill: "replace"`` is AlpacaEval's (tatsu-lab/alpaca_eval,
``src/alpaca_eval/utils.py`` ``make_prompts``: ``template.replace("{" + key + "}", value, 1)``
for each placeholder, "replace only first occurrence (that's why we don't use .format)"), so
that a prompt holding literal braces (AlpacaEval's JSON-like layout) can be used as it is
written: ``{name}`` (letters, digits, ``_``) is a placeholder, every other brace is literal.
Both insert each value once and verbatim: a value is never searched for placeholders again.
(AlpacaEval replaces in the text filled so far, so an instruction that contains the string
``{output_1}`` receives the first output there instead of in its slot; here it does not.)
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import TemplateError

FILLS = ("format", "replace")
_REPLACE_NAME = re.compile(r"\{([A-Za-z0-9_]+)\}")
CHATML_START, CHATML_END = "<|im_start|>", "<|im_end|>"
CHAT_ROLES = ("system", "user", "assistant")


@functools.lru_cache(maxsize=256)
def placeholders(text: str, fill: str = "format") -> tuple[str, ...]:
    """The ``{name}`` fields of a template text, in order."""
    if fill == "replace":
        return tuple(m.group(1) for m in _REPLACE_NAME.finditer(text))
    try:
        return tuple(name for _, name, _, _ in string.Formatter().parse(text)
                     if name is not None)
    except ValueError as exc:
        raise TemplateError(f"bad placeholder syntax: {exc}") from None


def check_text(text: str, fill: str) -> None:
    """Refuse a text its fill style cannot fill (raises TemplateError)."""
    names = placeholders(text, fill)
    if fill == "replace":
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            # AlpacaEval refuses these too: "All placeholders should be repeated batch_size=1
            # times".
            raise TemplateError(f"with fill 'replace' each placeholder appears once; "
                                f"{{{twice[0]}}} appears {names.count(twice[0])} times")
    elif any(not n or not n.isidentifier() for n in names):
        bad = next(n for n in names if not n or not n.isidentifier())
        raise TemplateError(f"bad placeholder {{{bad}}} (write a literal brace as {{{{ or "
                            "}}, or use \"fill\": \"replace\")")


def fill_text(text: str, values: Mapping[str, str], fill: str) -> str:
    """``text`` with each placeholder replaced by its value (every name has one)."""
    if fill == "format":
        return text.format_map(values)
    out, at = [], 0
    for match in _REPLACE_NAME.finditer(text):
        out += [text[at:match.start()], values[match.group(1)]]
        at = match.end()
    out.append(text[at:])
    return "".join(out)


def chatml_messages(text: str) -> tuple[tuple[str, str], ...]:
    """(role, content) of each message of a ChatML prompt file, split as AlpacaEval's
    ``prompt_to_chatml`` splits the filled prompt (``src/alpaca_eval/decoders/openai.py``):
    the text stripped, split at ``<|im_start|>``; the role is each part's first line, the
    content the rest up to ``<|im_end|>`` (stripped once filled, see ``Template.render``).
    Splitting the template rather than the filled prompt keeps an answer that contains
    ``<|im_end|>`` inside its message."""
    body = text.strip()
    if not (body.startswith(CHATML_START) and body.endswith(CHATML_END)):
        raise TemplateError(f"a chatml text starts with {CHATML_START} and ends with "
                            f"{CHATML_END}")
    messages = []
    for part in body.split(CHATML_START)[1:]:
        role, sep, rest = part.partition("\n")
        role = role.strip()
        if not sep or role not in CHAT_ROLES:
            raise TemplateError(f"chatml message role {role!r}: judgecli takes "
                                f"{', '.join(CHAT_ROLES)} (no name= parameters)")
        messages.append((role, rest.split(CHATML_END, 1)[0]))
    return tuple(messages)


@dataclass(frozen=True)
class Source:
    """Where a placeholder's value comes from: an item variable or record field (``field``),
    fixed text (``text``), or text built from the record's fields (``format``)."""

    kind: str
    value: str


def source_from_json(raw: object, read_rubric: object) -> Source:
    """A ``bind`` value: a field name, ``{"text": T}`` or ``{"rubric": NAME}`` (a bundled
    rubric, ``prompts/rubrics/NAME.txt``), optionally with ``"first_line": true`` (its first
    line only, as Prometheus's ``load_rubric`` gives relative grading) and ``"format": true``
    (its ``{field}`` placeholders filled from the record, as ``SCORE_RUBRIC_TEMPLATE``).
    Raises ValueError with the reason."""
    if isinstance(raw, str) and raw:
        return Source("field", raw)
    if not isinstance(raw, dict) or len({"text", "rubric"} & set(raw)) != 1 or \
            set(raw) - {"text", "rubric", "first_line", "format"}:
        raise ValueError("must be a field name, or an object with text or rubric "
                         "(and optionally first_line, format)")
    if "rubric" in raw:
        assert callable(read_rubric)
        text = read_rubric(raw["rubric"])
    else:
        text = raw["text"]
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    for flag in ("first_line", "format"):
        if not isinstance(raw.get(flag, False), bool):
            raise ValueError(f"{flag} must be true or false")
    if raw.get("first_line"):
        text = text.split("\n")[0]
    if raw.get("format"):
        check_text(text, "format")
        return Source("format", text)
    return Source("text", text)
