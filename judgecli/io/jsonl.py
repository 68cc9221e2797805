"""The JSONL codec: reading so that bad input is named, writing one line a record.

Input is read lazily, one line at a time, so memory does not grow with the file. Every
problem names the file and the 1-based line. What may be written where is
:mod:`judgecli.io.output`'s.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import InputError

STDIN = "-"


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


# A \uD800-\uDFFF escape: valid JSON, but a lone one is no character, and such text can be
# neither tokenized nor written as UTF-8. Checked only where the raw line has one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key '{key}'")
        obj[key] = value
    return obj


def parse_line(raw: bytes, *, file: str, line: int) -> dict[str, Any] | None:
    """Parse one JSONL line; None for a blank line. Raises InputError naming file and line."""
    if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark, as some editors on Windows write
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})", file=file, line=line) from None
    if not text.strip():
        return None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys,
                         parse_constant=reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise InputError(f"not valid JSON ({reason})", file=file, line=line) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=file,
                         line=line)
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(obj):
        raise InputError("a \\u escape names half a UTF-16 surrogate pair, which is no "
                         "character", file=file, line=line)
    return obj


# Lines of stdin read ahead by ``first_record`` (stdin cannot be read twice), given back
# first to whoever reads stdin next.
_stdin_read_ahead: list[bytes] = []


def _stdin_lines() -> Iterator[bytes]:
    while _stdin_read_ahead:
        yield _stdin_read_ahead.pop(0)
    yield from sys.stdin.buffer


def _open_binary(path: str) -> Any:
    if path == STDIN:
        return _stdin_lines()
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a JSONL file", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot open ({exc.strerror})", file=path) from None


def check_input(path: str) -> None:
    """The input can be opened (a cheap check made before any model loads)."""
    if path != STDIN:
        _open_binary(path).close()


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def iter_raw(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw bytes) for each line of a file or stdin, lazily."""
    stream = _open_binary(path)
    try:
        yield from enumerate(stream, start=1)
    finally:
        if path != STDIN:
            stream.close()


def count_lines(path: str) -> int | None:
    """Non-blank lines in a file, for a progress bar (None for stdin)."""
    if path == STDIN:
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def first_record(path: str, *, skip_invalid: bool = False,
                 ) -> tuple[int, dict[str, Any]] | None:
    """The first non-blank line of a JSONL file or stdin, parsed (with ``skip_invalid``, the
    first that parses); None if there is none, or if it does not parse (the run says why).
    Nothing is consumed: stdin's lines read here are read again by the next reader."""
    name = display_name(path)
    if path == STDIN:
        lines: Iterator[tuple[int, bytes]] = _read_ahead_stdin()
    else:
        lines = iter_raw(path)
    try:
        for number, raw in lines:
            try:
                obj = parse_line(raw, file=name, line=number)
            except InputError:
                if skip_invalid:
                    continue  # the run skips it too
                return None  # the run itself reports the bad line
            if obj is not None:
                return number, obj
        return None
    finally:
        lines.close()  # type: ignore[attr-defined]


def _read_ahead_stdin() -> Iterator[tuple[int, bytes]]:
    for raw in sys.stdin.buffer:
        _stdin_read_ahead.append(raw)
        yield len(_stdin_read_ahead), raw


def iter_lines(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a JSONL file or stdin."""
    name = display_name(path)
    for number, raw in iter_raw(path):
        obj = parse_line(raw, file=name, line=number)
        if obj is not None:
            yield number, obj


def read_json_list(path: str) -> list[dict[str, Any]]:
    """A whole-file JSON list of objects (how AlpacaEval, PandaLM and LLMBar ship results)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a valid JSON file ({exc})", file=path) from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of objects", file=path)
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            raise InputError(f"expected an object, got {type(row).__name__}", file=path,
                             field=f"[{index}]")
    return data


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line (no newline). ensure_ascii=False keeps text readable and round-trips."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False)
