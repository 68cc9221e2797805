"""An on-disk cache of API replies, so that a re-run or ``--resume`` never pays twice.

One SQLite file, ``completions.sqlite3``, in ``--cache-dir``, else ``$JUDGECLI_CACHE_DIR``,
else ``$XDG_CACHE_HOME/judgecli`` (``~/.cache/judgecli``). A reply is keyed by a SHA-256 of
the request as sent (model, endpoint, messages or prompt, decoding parameters; never the
API key), and only successful replies are stored.

Two runs may share the file: the WAL journal lets readers go on while one writes, a writer
waits for the other (busy timeout) instead of failing, and ``INSERT OR IGNORE`` keeps the
first reply stored for a key, so every run reads the same one. Two runs that miss the same
key at the same moment may both ask the API; neither corrupts the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...errors import JudgecliError

FILENAME = "completions.sqlite3"
_KEY_VERSION = 1  # bump when what is stored, or how keys are made, changes
_BUSY_MS = 30_000


def default_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("JUDGECLI_CACHE_DIR"):
        return Path(os.environ["JUDGECLI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "judgecli"


def cache_key(**parts: Any) -> str:
    """A stable key for a request: canonical JSON of its parts, hashed."""
    blob = json.dumps({"v": _KEY_VERSION, **parts}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Cache:
    """``get(key)`` / ``put(key, value)`` of JSON-serialisable replies."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.path = default_dir(directory) / FILENAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit (isolation_level=None): each put is its own short transaction, so a
            # killed run loses nothing already stored and never holds the lock for long.
            self._db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            self._set_up()
        except (OSError, sqlite3.Error) as exc:
            raise JudgecliError(f"cannot open the cache {self.path} ({exc}); use --cache-dir "
                                "elsewhere or --no-cache") from None

    def _set_up(self) -> None:
        """WAL mode and the table. Two runs opening a new cache at once can find it locked
        without SQLite waiting (switching to WAL does not call the busy handler), so a
        locked database is tried again until the busy timeout."""
        deadline = time.monotonic() + _BUSY_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable across application crashes in WAL mode; a power loss
                # may lose the last replies, which then are merely asked for again.
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, "
                                 "value TEXT NOT NULL, created REAL NOT NULL)")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            row = self._db.execute("SELECT value FROM replies WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise JudgecliError(f"cannot read the cache {self.path} ({exc})") from None
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._db.execute("INSERT OR IGNORE INTO replies (key, value, created) "
                             "VALUES (?, ?, ?)", (key, json.dumps(value), time.time()))
        except sqlite3.Error as exc:
            raise JudgecliError(f"cannot write the cache {self.path} ({exc})") from None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self._db.close()
