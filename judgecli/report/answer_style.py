"""Each answer's style, as Arena-Hard-Auto v2.0 measures it for its style control
(``style``): length and markdown, read while ``report --style-control`` loads a file.

Following lmarena/arena-hard-auto utils/add_markdown_info.py at
3bab2949d60ff0eae3af80cbd4c869a818bb7dd6 (``count_markdown_elements``, ``remove_pattern``)
and v2.0's gen_answer.py, which stores with each answer ``token_len``, the number of tiktoken
``encoding_for_model("gpt-4o")`` (o200k_base) tokens of the whole answer
(``disallowed_special=()``), and the markdown counted once the text between each pair of
``` fences is removed: every occurrence of that text, as ``remove_pattern`` replaces what
the pattern's group captured. Headers: a line starting with one to six ``#`` and a space (h1
to h6, summed); list items: ``1.`` or ``-``, ``*``, ``+`` after optional spaces, then a space;
bold: ``**x**`` and ``__x__`` (no newline inside).

Length is counted in o200k_base tokens where tiktoken is installed and its o200k_base file is
already in tiktoken's cache (judgecli never downloads it; the file is fetched once online by
``tiktoken.get_encoding("o200k_base")``); otherwise in characters, and the figures say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.records import lookup

TOKENS = "o200k_base tokens (tiktoken)"
CHARACTERS = "characters"
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"

_MISSING = object()
_FENCED = re.compile("```([^`]*)```")
_HEADERS = [re.compile(rf"^#{{{k}}}\s", re.MULTILINE) for k in range(1, 7)]
_LISTS = [re.compile(r"^\s*\d+\.\s", re.MULTILINE), re.compile(r"^\s*[-*+]\s", re.MULTILINE)]
_BOLD = [re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__")]


def markdown_counts(text: str) -> tuple[int, int, int]:
    """Headers, list items and bold spans, after the text inside ``` fences is removed."""
    for block in _FENCED.findall(text):
        text = text.replace(block, "")
    return (sum(len(p.findall(text)) for p in _HEADERS),
            sum(len(p.findall(text)) for p in _LISTS),
            sum(len(p.findall(text)) for p in _BOLD))


def _o200k_cached() -> bool:
    """Whether tiktoken would read o200k_base from its cache (tiktoken/load.py
    ``read_file_cached``) instead of downloading it."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get(
        "DATA_GYM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "data-gym-cache")))
    return bool(cache) and os.path.exists(
        os.path.join(cache, hashlib.sha1(O200K_URL.encode()).hexdigest()))


def length_measure() -> tuple[Callable[[str], int], str, str | None]:
    """How answers are measured: (measure, unit, why not in o200k_base tokens)."""
    try:
        import tiktoken
    except ImportError:
        return len, CHARACTERS, "tiktoken is not installed"
    if not _o200k_cached():
        return len, CHARACTERS, ("tiktoken's o200k_base file is not in its cache (judgecli "
                                 "does not download it; tiktoken.get_encoding('o200k_base') "
                                 "once online puts it there)")
    encoding = tiktoken.get_encoding("o200k_base")
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), TOKENS, None


def answer_style(text: str, measure: Callable[[str], int]) -> tuple[int, int, int, int]:
    """One answer's (length, headers, lists, bold), as Arena-Hard v2.0's metadata."""
    return (measure(text), *markdown_counts(text))


@dataclass
class StyleData:
    """Each item's answers' styles (n x 8: A's length, headers, lists, bold, then B's), and
    its models' codes (n x 2, into ``names``)."""

    values: np.ndarray
    models: np.ndarray
    names: list[str]
    unit: str
    note: str | None

    def subset(self, mask: Any) -> StyleData:
        return StyleData(self.values[mask], self.models[mask], self.names, self.unit,
                         self.note)


class StyleColumns:
    """Reads each pairwise record's answers and models while the report loads a file
    (64 bytes an item, only with --style-control)."""

    def __init__(self, file: str, answer_a: str, answer_b: str) -> None:
        self.file, self.paths = file, (answer_a, answer_b)
        self.measure, self.unit, self.note = length_measure()
        self.values: array[float] = array("d")
        self.models: array[int] = array("i")
        self.names: dict[str, int] = {}

    def add(self, record: dict[str, Any], line: int) -> None:
        for path in self.paths:
            text = lookup(record, path, _MISSING)
            if type(text) is not str:
                raise InputError("style control needs each answer's text" if text is _MISSING
                                 else f"expected the answer's text, got {type(text).__name__}"
                                 " (style control)", file=self.file, line=line, field=path)
            self.values.extend(answer_style(text, self.measure))
        for key in ("model_a", "model_b"):
            name = record.get(key)
            if type(name) is not str:
                raise InputError("missing (style control needs model_a and model_b)"
                                 if name is None else f"expected a string, got {name!r}",
                                 file=self.file, line=line, field=key)
            self.models.append(self.names.setdefault(name, len(self.names)))

    def finish(self) -> StyleData:
        return StyleData(np.frombuffer(self.values, dtype=np.float64).reshape(-1, 8),
                         np.frombuffer(self.models, dtype=np.int32).reshape(-1, 2),
                         list(self.names), self.unit, self.note)
