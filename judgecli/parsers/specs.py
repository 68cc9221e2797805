"""Parsers declared as data: a template's ``output.parser`` may be a pattern instead of a name.

    "output": {"parser": {"regex": "\\\\[\\\\[([AB<>=]+)\\\\]\\\\]", "match": "last", "flags": "i",
                          "kind": "verdict", "map": {"A>B": "A", "A=B": "tie", "B>A": "B"}}}

Keys (validated when the template loads; a wrong one is refused with its name):

* ``regex``: a Python regular expression whose first group is the value written, or a list of
  them tried in order: the first one that matches anywhere decides (Arena-Hard's fallback
  ``[A>B]`` after ``[[A>B]]``);
* ``match``: ``first`` (default) or ``last``: which match of that pattern counts;
* ``flags``: any of ``i`` (ignore case), ``s`` (``.`` matches newlines), ``m`` (``^``/``$``
  at every line);
* ``strip``: match against the text with surrounding whitespace removed (Auto-J strips first);
* ``case``: ``upper`` or ``lower``: the value is upper- or lower-cased before the ``map`` is
  read (Prometheus upper-cases its A/B, Auto-J lower-cases "Response 1");
* ``kind``: ``verdict`` (pairwise templates: ``map`` turns the value written into ``A``, ``B``
  or ``tie``, a value not in it failing; or ``label5`` turns it into Arena-Hard's five-level
  verdict, ``A>>B``, ``A>B``, ``A=B``, ``B>A`` or ``B>>A``, kept in each order's ``label5``
  and giving its A / B / tie) or ``score`` (single-answer templates:
  ``number`` ``int`` or ``float`` reads it as Python's int() / float() of the stripped value
  does, a non-finite number failing; optional ``range`` [low, high]);
* ``values``: the small closed set the judge writes there (a verdict parser's defaults to its
  ``map`` keys), so that an API judge's logprobs give each a probability;
* ``tokens``: how an API judge's logprobs give those probabilities: ``split`` (default: the
  value may be written in several tokens, followed as for the named parsers); ``exact``: from
  the one token at the value whose text is exactly a value; ``top``: as AlpacaEval's
  ``logprob_parser`` reads them (alpaca_eval 0.6.6), from the top logprobs of the reply's
  first token whatever token was sampled there, the verdict then being the more probable
  value (a reply without logprobs is read from its text by ``regex``).

* ``expects``: what the judge should have written, in words, for the error of a reply that
  does not match (``the judgment does not match ...: expected an integer 1-5 after [RESULT]
  at the end of the reply``).

A data parser travels as a string (``Template.parser``, ``Request.parser``): ``regex:`` and its
canonical JSON, so that every module that reads a parser name can read this one too.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import TIE, A, B, Parsed, ParseFailure

PREFIX = "regex:"
VERDICTS = {"A": A, "B": B, "tie": TIE}
LABELS5 = {"A>>B": A, "A>B": A, "A=B": TIE, "B>A": B, "B>>A": B}  # -> the verdict
_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE}
_KEYS = {"regex", "match", "flags", "strip", "case", "kind", "map", "label5", "number",
         "range", "values", "tokens", "expects"}


class SpecError(ValueError):
    """A malformed data parser; ``key`` names the key under ``output.parser``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"'output.parser{'.' + key if key else ''}' {message}")
        self.key = key


@dataclass(frozen=True)
class DataParser:
    patterns: tuple[re.Pattern[str], ...]
    kind: str
    last: bool = False
    strip: bool = False
    case: str = ""  # "upper" / "lower": the value's case before the map is read
    mapping: tuple[tuple[str, str], ...] = ()  # value written -> verdict, or -> label5
    five: bool = False  # the mapping gives Arena-Hard's five-level verdicts
    number: str = ""
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    exact: bool = False
    top: bool = False  # tokens "top": AlpacaEval's logprob_parser reading
    expects: str = ""  # what should have been written, for the error of a reply that is not

    def find(self, text: str) -> tuple[int, str] | None:
        """(offset in ``text``, value written) of the match that counts, or None."""
        lead = 0
        if self.strip:
            lead = len(text) - len(text.lstrip())
            text = text.strip()
        for pattern in self.patterns:
            if self.last:
                match = None
                for match in pattern.finditer(text):  # noqa: B007 (the last one is kept)
                    pass
            else:
                match = pattern.search(text)
            if match is not None:
                return lead + match.start(1), match.group(1)
        return None

    def describe(self) -> str:
        """One line for ``judgecli templates NAME``: what is read, and what it becomes."""
        which = "last match" if self.last else "first match"
        patterns = " or ".join(p.pattern for p in self.patterns)
        if self.kind == "verdict":
            to = "five-level " if self.five else ""
            gives = f"{to}verdict " + ", ".join(f"{k} -> {v}" for k, v in self.mapping)
        else:
            bounds = "" if self.low is None and self.high is None else \
                f" in [{self.low:g}, {self.high:g}]" if None not in (self.low, self.high) \
                else f" >= {self.low:g}" if self.low is not None else f" <= {self.high:g}"
            gives = f"{'an integer' if self.number == 'int' else 'a number'}{bounds}"
            if self.values:
                gives += f", one of {', '.join(self.values)}"
        return f"pattern {patterns} ({which}) -> {gives}"

    def mapped(self, written: str) -> str | None:
        key = written.upper() if self.case == "upper" else \
            written.lower() if self.case == "lower" else written
        return dict(self.mapping).get(key)

    def verdict_of(self, written: str) -> str | None:
        value = self.mapped(written)
        return LABELS5[value] if self.five and value is not None else value

    def parse(self, text: str) -> Parsed:
        found = self.find(text)
        if found is None:
            raise ParseFailure("the judgment does not match the template's output pattern" +
                               (f": expected {self.expects}" if self.expects else ""))
        written = found[1]
        shown = written if len(written) <= 40 else written[:30] + "..."
        if self.kind == "verdict":
            value = self.mapped(written)
            if value is None:
                raise ParseFailure(f"{shown!r} is not one of the verdicts the template "
                                   f"maps ({', '.join(k for k, _ in self.mapping)})")
            if self.five:
                return Parsed(verdict=LABELS5[value], label5=value)
            return Parsed(verdict=value)
        read = int if self.number == "int" else float
        try:
            number = read(written.strip())
            value = float(number)
        except (ValueError, OverflowError):
            # int() refuses over 4,300 digits (where prometheus-eval's parser.py raises).
            why = " (too many digits)" if written.strip().isdecimal() else ""
            raise ParseFailure(f"{shown!r} is not {'an integer' if read is int else 'a number'}"
                               f"{why}") from None
        if not math.isfinite(value):
            raise ParseFailure(f"{shown!r} is not a finite number")
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            raise ParseFailure(f"{value:g} is outside {self.low:g}-{self.high:g}")
        # An integer grade is written as one ("score": 4, as Prometheus's [RESULT] 4 reads).
        return Parsed(scores=(number if read is int else value,))


def is_data(parser: str | None) -> bool:
    return bool(parser) and str(parser).startswith(PREFIX)


def encode(raw: Any) -> str:
    """Validate a data parser and give its name (raises SpecError)."""
    _build(raw)  # validates; the name is the canonical JSON
    return PREFIX + json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=64)
def decode(name: str) -> DataParser:
    """The data parser a ``regex:`` name stands for."""
    if not is_data(name):
        raise ValueError(f"not a data parser: {name[:40]!r}")
    return _build(json.loads(name[len(PREFIX):]))


def reader_of(name: str) -> Callable[[str, int | None], Parsed]:
    """The reader ``parsers.parse`` calls for a data parser's name."""
    if not is_data(name):
        raise ValueError(f"unknown parser {name!r}")
    spec = decode(name)
    return lambda text, _count: spec.parse(text)


def _build(raw: Any) -> DataParser:
    if not isinstance(raw, dict):
        raise SpecError("", "must be a parser name or an object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise SpecError(sorted(unknown)[0], "is not a key of a data parser (keys: "
                        f"{', '.join(sorted(_KEYS))})")
    flags = raw.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set(_FLAGS):
        raise SpecError("flags", "must be a string of i, s and m")
    sources = raw.get("regex")
    sources = [sources] if isinstance(sources, str) else sources
    if not isinstance(sources, list) or not sources or \
            not all(isinstance(s, str) and s for s in sources):
        raise SpecError("regex", "must be a non-empty string or list of strings")
    patterns = []
    for source in sources:
        try:
            pattern = re.compile(source, sum(_FLAGS[f] for f in set(flags)))
        except re.error as exc:
            raise SpecError("regex", f"is not a valid regular expression ({exc})") from None
        if pattern.groups < 1:
            raise SpecError("regex", "needs a group: (...) around the value")
        patterns.append(pattern)
    if raw.get("match", "first") not in ("first", "last"):
        raise SpecError("match", "must be first or last")
    if not isinstance(raw.get("strip", False), bool):
        raise SpecError("strip", "must be true or false")
    kind = raw.get("kind")
    if kind not in ("verdict", "score"):
        raise SpecError("kind", "must be verdict or score")
    values = raw.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SpecError("values", "must be a list of non-empty strings")
    if raw.get("case", "") not in ("", "upper", "lower"):
        raise SpecError("case", "must be upper or lower")
    if raw.get("tokens", "split") not in ("split", "exact", "top"):
        raise SpecError("tokens", "must be split, exact or top")
    if not isinstance(raw.get("expects", ""), str):
        raise SpecError("expects", "must be a string")
    if raw.get("tokens") == "top" and kind != "verdict":
        raise SpecError("tokens", "top reads a verdict: it needs kind verdict")
    mapping: tuple[tuple[str, str], ...] = ()
    low = high = None
    stray = ({"number", "range"} if kind == "verdict" else {"map", "label5"}) & set(raw)
    if stray:
        raise SpecError(sorted(stray)[0], f"does not apply to kind {kind}")
    five = "label5" in raw
    if kind == "verdict":
        key = "label5" if five else "map"
        table, targets = raw.get(key), LABELS5 if five else VERDICTS
        if "map" in raw and five or not isinstance(table, dict) or not table or not all(
                isinstance(k, str) and k and v in targets for k, v in table.items()):
            raise SpecError(key, "must map each value written to one of "
                            f"{', '.join(targets)} (a verdict parser has map or label5)")
        case = raw.get("case", "")
        if case and any(k != (k.upper() if case == "upper" else k.lower()) for k in table):
            raise SpecError(key, f"keys must be {case}-case, as the value is made {case}-case")
        mapping = tuple((k, v if five else VERDICTS[v]) for k, v in table.items())
        values = values or list(table)
    else:
        if raw.get("number") not in ("int", "float"):
            raise SpecError("number", "must be int or float")
        bounds = raw.get("range")
        if bounds is not None:
            if not isinstance(bounds, list) or len(bounds) != 2 or not all(
                    isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) \
                    or bounds[0] > bounds[1]:
                raise SpecError("range", "must be [low, high]")
            low, high = float(bounds[0]), float(bounds[1])
    built = DataParser(patterns=tuple(patterns), kind=kind, last=raw.get("match") == "last",
                       strip=raw.get("strip", False), case=raw.get("case", ""), mapping=mapping,
                       five=five,
                       number=raw.get("number", ""), low=low, high=high, values=tuple(values),
                       exact=raw.get("tokens") == "exact", top=raw.get("tokens") == "top",
                       expects=raw.get("expects", ""))
    if kind == "verdict" and not all(built.verdict_of(v) for v in values):
        raise SpecError("values", "must be keys of 'map'")
    return built
