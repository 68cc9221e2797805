"""Items whose answers hold their template's own delimiters: ``n_delimiter_answers``.

An answer containing "[System]", "### Response:" or "[[A]]" cannot change how judgecli
reads a judgment (parsers read only the judge's output, never the prompt), but the judge
itself sees that text inside its prompt and may be misled by it, as by any prompt
injection. ``report`` counts such items so that a reader knows how many verdicts to doubt.

The delimiters are taken from the text of the template named in ``judgment.template``
rather than listed by hand: its bracketed markers, cut after "Assistant" so that every
assistant's marker counts (JudgeLM's "[The Start of Assistant", "[System]"; MT-Bench's
"<|The End of Assistant"), its ``###`` headers up to their first word ("### Response",
"### Evaluation"), and its ``[[...]]`` verdict marks, a number standing for any number
(MT-Bench's "[[5]]" as FastChat reads ratings: ``\\[\\[(\\d+\\.?\\d*)\\]\\]``). A template
that is not bundled, or a record without ``judgment.template``, is checked against the
delimiters of every bundled template. A bare "[[" is not a delimiter: nested lists in
code answers would all count.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from functools import cache
from typing import Any

from ..templates import available, load_template
from ..templates.fill import fill_text, placeholders

_MARKER = re.compile(r"\[\[[^\[\]\n]{1,40}\]\]|\[[^\[\]\n]{1,80}\]|<\|[^|\n]{1,80}\|>"
                     r"|^#{2,4} +\w+", re.M)
_AFTER_ASSISTANT = re.compile(r"(?<=Assistant)\b.*", re.S)
_ANY_RATING = r"\[\[\d+(?:\.\d+)?\]\]"


def _literal_text(text: str, fill: str = "format") -> str:
    """The template's text with each placeholder shown as ``1`` (as JudgeLM numbers its
    assistants) and escaped braces as single ones (a ``replace`` fill has none)."""
    if fill == "replace":
        return fill_text(text, dict.fromkeys(placeholders(text, fill), "1"), fill)
    return "".join(literal + ("1" if name is not None else "")
                   for literal, name, _, _ in string.Formatter().parse(text))


def template_markers(text: str, fill: str = "format") -> set[str]:
    """Regular-expression fragments, one per delimiter found in a template's text."""
    found: set[str] = set()
    for marker in _MARKER.findall(_literal_text(text, fill)):
        if marker.startswith("[["):
            inner = marker[2:-2]
            found.add(_ANY_RATING if re.fullmatch(r"\d+(?:\.\d+)?", inner)
                      else re.escape(marker))
        elif marker.startswith("#"):
            found.add(re.escape(marker))
        else:
            found.add(re.escape(_AFTER_ASSISTANT.sub("", marker)))
    return found


def _texts(name: str) -> tuple[str, str]:
    template = load_template(name)
    return "\n".join((template.text, template.system, template.user, template.answer_block,
                      *template.text_if_empty.values())), template.fill


@cache
def _bundled() -> frozenset[str]:
    return frozenset(available())


def delimiter_pattern(template: Any) -> re.Pattern[str]:
    """What marks a delimiter of a bundled template (every bundled one for any other name).
    Only bundled names are loaded: a judgment file never makes the report read a path."""
    return _pattern(template if type(template) is str and template in _bundled() else None)


@cache
def _pattern(name: str | None) -> re.Pattern[str]:
    fragments: set[str] = set()
    for each in [name] if name is not None else sorted(_bundled()):
        fragments |= template_markers(*_texts(each))
    return re.compile("|".join(sorted(fragments)) or r"(?!)")


def holds_delimiters(answers: Iterable[Any], template: Any) -> bool:
    """Whether any of the answer texts contains a delimiter of ``template`` (a name)."""
    search = delimiter_pattern(template).search
    # Every delimiter starts with "[", "<" or "#": most answers are cleared without a search.
    return any(type(text) is str and ("[" in text or "#" in text or "<" in text)
               and search(text) is not None for text in answers)


def record_answers(record: dict[str, Any], answer_a: Any, answer_b: Any) -> list[Any]:
    """The answer texts of a judgment record: both answers (as read, possibly through
    --map), a single answer, and the answers of each turn."""
    texts = [answer_a, answer_b, record.get("answer")]
    turns = record.get("turns")
    if type(turns) is list:
        for turn in turns:
            if type(turn) is dict:
                texts.extend((turn.get("answer_a"), turn.get("answer_b"), turn.get("answer")))
    return texts
