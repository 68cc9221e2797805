"""Reading and writing JSONL so that bad input is named and nothing written is ever torn.

Input is read lazily, one line at a time, so memory does not grow with the file. Every
problem names the file and the 1-based line. Output is appended line by line; a run
that is killed can leave at most one unterminated last line, which `open_output`
cuts off before a resumed run appends to the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterator
from typing import IO, Any

from .errors import InputError, OutputError

STDIN = "-"


def _reject_constant(name: str) -> Any:
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
                         parse_constant=_reject_constant, parse_float=_finite_float)
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


def scan_output(path: str) -> tuple[set[Any], int]:
    """Read an existing output: the ids of its complete records (as :func:`id_key`) and the
    byte length those records occupy. Only the ids are kept, so resuming a run of a million
    records holds a million ids, not a million records.

    A last line without its newline, or one that is not valid JSON, is a write that was
    cut off by a kill; it is not counted, and the caller truncates the file there.
    """
    done: set[Any] = set()
    good = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                obj = parse_line(raw, file=path, line=number)
            except InputError:
                rest = handle.read()
                if rest.strip():  # a bad line in the middle is not a torn write
                    raise OutputError(
                        f"{path}:{number}: not a judgment record; refusing to resume into it"
                    ) from None
                break
            if obj is not None:
                if not isinstance(obj, dict) or "id" not in obj:
                    raise OutputError(f"{path}:{number}: a record without 'id'; cannot resume")
                done.add(id_key(obj["id"]))
            good += len(raw)
    return done, good


class JsonlWriter:
    """Appends records as complete lines; each batch is flushed to the OS when written."""

    def __init__(self, stream: IO[bytes], *, close: bool) -> None:
        self._stream = stream
        self._close = close

    def write_many(self, records: list[dict[str, Any]]) -> None:
        # One write call per batch: a kill lands between batches or tears only the tail.
        if records:
            self._stream.write("".join(dumps(r) + "\n" for r in records).encode("utf-8"))
            self._stream.flush()

    def close(self) -> None:
        if self._close:
            self._stream.close()


def drop_failed(path: str) -> int:
    """``--retry-errors``: rewrite ``path`` without its failed judgments (``judgment.error``
    set), so that ``--resume`` judges those items again. Streams the file (memory stays
    flat) and replaces it atomically; a torn last line is left for ``scan_output``."""
    dropped = 0
    temporary = path + ".retry-errors.tmp"
    with open(path, "rb") as source, open(temporary, "wb") as kept:
        for raw in source:
            try:
                record = json.loads(raw) if raw.endswith(b"\n") else None
            except ValueError:
                record = None  # not ours to judge here: scan_output names it
            judgment = record.get("judgment") if isinstance(record, dict) else None
            if isinstance(judgment, dict) and judgment.get("error") is not None:
                dropped += 1
                continue
            kept.write(raw)
        kept.flush()
        os.fsync(kept.fileno())
    os.replace(temporary, path)
    return dropped


def check_output(path: str | None, *, resume: bool = False, force: bool = False,
                 option: str = "-o", resumable: bool = True) -> None:
    """Everything about an output file that can be checked before any work (and before a
    model loads): it names a file, in a folder that exists and can be written, and an
    existing one is resumed or overwritten only when asked to be."""
    if path is None or path == STDIN:
        return
    if os.path.isdir(path):
        raise OutputError(f"{option} {path} is a folder; name a file in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"{option} {path}: no such folder {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise OutputError(f"{option} {path}: cannot write there (permission denied)")
    if not (resume or force):
        refuse_existing(path, resumable=resumable)


def refuse_existing(path: str, *, resumable: bool = True) -> None:
    """An output that exists is neither resumed nor overwritten unless asked to be."""
    if os.path.exists(path) and os.path.getsize(path) > 0:
        how = "--resume to finish it or --force" if resumable else "--force"
        raise OutputError(f"{path} exists; use {how} to overwrite it")


def open_output(path: str | None, *, resume: bool, force: bool,
                retry_errors: bool = False) -> tuple[JsonlWriter, set[Any]]:
    """Open the output for appending; with resume, return the ids already judged there
    (with ``retry_errors``, failed judgments are first removed, so they are judged again)."""
    if path is None or path == STDIN:
        if resume:
            raise OutputError("--resume needs an output file (-o FILE), not stdout")
        return JsonlWriter(sys.stdout.buffer, close=False), set()
    check_output(path, resume=True)
    done: set[Any] = set()
    exists = os.path.exists(path) and os.path.getsize(path) > 0
    if exists and resume:
        if retry_errors:
            drop_failed(path)
        done, good = scan_output(path)
        with open(path, "r+b") as handle:
            handle.truncate(good)
    elif not force:
        refuse_existing(path)
    try:
        stream = open(path, "ab" if resume else "wb")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    return JsonlWriter(stream, close=True), done


def id_key(value: Any) -> Any:
    # Ids compare by JSON value: 3 and "3" are different ids, as they are in the input.
    return (type(value).__name__, value)

