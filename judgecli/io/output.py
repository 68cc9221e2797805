"""Output files: what may be written where, and nothing written ever torn.

An output is never overwritten without ``--force`` or ``--resume``. It is appended line by
line; a run that is killed can leave at most one unterminated last line, which
:func:`open_output` cuts off before a resumed run appends to the file.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from ..errors import InputError, OutputError
from .ids import id_key
from .jsonl import STDIN, dumps, parse_line


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


