"""``--skip-invalid``: bad input lines go to FILE.rejected.jsonl beside the input.

The file is written afresh by each run that meets a bad line. One left by an earlier run is
replaced only when the run is asked to redo or finish that run (``--force``, ``--resume``:
a resumed run reads the whole input again, so it writes the same complete list); otherwise
the run is refused before it starts, so that an earlier list is never lost silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from ..errors import InputError, OutputError
from .jsonl import STDIN, dumps


def rejected_path(input_path: str) -> Path:
    """Where --skip-invalid writes bad lines: FILE.rejected.jsonl beside the input."""
    if input_path == STDIN:
        return Path("stdin.rejected.jsonl")
    path = Path(input_path)
    return path.with_name(path.stem + ".rejected.jsonl") if path.suffix == ".jsonl" \
        else path.with_name(path.name + ".rejected.jsonl")


def check_rejects(input_path: str, *, resume: bool = False, force: bool = False) -> None:
    """Refuse a run that could replace an earlier run's rejects without being asked to."""
    path = rejected_path(input_path)
    if not (resume or force) and path.exists() and path.stat().st_size > 0:
        raise OutputError(f"{path} exists (the bad lines an earlier run skipped); move it "
                          "away, or use --force or --resume to replace it")


class Rejects:
    """Writes bad lines as they are met; the file is opened at the first one."""

    def __init__(self, input_path: str) -> None:
        self.path = rejected_path(input_path)
        self.count = 0
        self._stream: IO[str] | None = None

    def write(self, line: int, raw: bytes, error: InputError) -> None:
        if self._stream is None:
            try:
                self._stream = open(self.path, "w", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot write the rejected lines "
                                  f"({exc.strerror})") from None
        self._stream.write(dumps({"line": line, "error": error.reason, "field": error.field,
                                  "raw": raw.decode("utf-8", "replace").rstrip("\r\n")}) + "\n")
        self._stream.flush()
        self.count += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
