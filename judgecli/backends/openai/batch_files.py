"""The files of a batch run: its state file, the Batch API's input lines, and how they are
split into files under its limits (``openai_batch`` uses them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...errors import JudgecliError


class BatchState:
    """One request set's batches: ``parts``, one per file (``input_file_id``,
    ``requests``, then ``batch_id``, ``status``, the result files' ids), kept in a JSON
    file that is replaced whole on each change, so a kill never leaves half of one."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path, self.digest = path, digest
        self.parts: list[dict[str, Any]] = []
        self.keys: list[list[str]] = []  # each part's custom_ids, where this run knows them

    def load(self) -> bool:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.parts = list(data["parts"])
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JudgecliError(f"cannot read the batch state {self.path} ({exc}); delete it "
                                "to submit the batch again (and pay for it again)") from None
        return bool(self.parts)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"version": 1, "parts": self.parts}, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise JudgecliError(f"cannot write the batch state {self.path} ({exc})") from None

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def batch_line(key: str, url: str, body: dict[str, Any]) -> bytes:
    return (json.dumps({"custom_id": key, "method": "POST", "url": url, "body": body},
                       ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def custom_id(line: bytes) -> tuple[str, dict[str, Any]] | None:
    """(custom_id, row) of a batch file's line; None for a blank or torn one."""
    try:
        row = json.loads(line)
        return (row["custom_id"], row) if isinstance(row["custom_id"], str) else None
    except (ValueError, KeyError, TypeError):
        return None


def split(keys: list[str], sizes: list[int], max_requests: int,
           max_bytes: int) -> list[list[str]]:
    """The keys in files of at most ``max_requests`` lines and ``max_bytes`` bytes."""
    files: list[list[str]] = []
    current: list[str] = []
    total = 0
    for key, size in zip(keys, sizes, strict=True):
        if current and (len(current) >= max_requests or total + size > max_bytes):
            files.append(current)
            current, total = [], 0
        current.append(key)
        total += size
    if current:
        files.append(current)
    return files
