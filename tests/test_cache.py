"""The on-disk reply cache: SQLite, consistent when two processes share it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from judgecli.backends.openai.cache import FILENAME, Cache, cache_key, default_dir
from judgecli.errors import JudgecliError


def test_put_get_and_the_first_reply_stays(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    key = cache_key(model="m", messages=[{"role": "user", "content": "hi"}], temperature=0)
    assert cache.get(key) is None
    cache.put(key, {"text": "first", "usage": {"prompt_tokens": 3}})
    cache.put(key, {"text": "second"})
    assert cache.get(key) == {"text": "first", "usage": {"prompt_tokens": 3}}
    assert len(cache) == 1
    cache.close()
    reopened = Cache(tmp_path)
    assert reopened.get(key)["text"] == "first"  # type: ignore[index]
    reopened.close()


def test_keys_depend_on_every_part_and_not_on_order() -> None:
    base = dict(endpoint="http://127.0.0.1:8000/v1", api="chat", model="m",
                messages=[{"role": "user", "content": "x"}], temperature=0, max_tokens=5)
    assert cache_key(**base) == cache_key(**dict(reversed(list(base.items()))))
    for change in (dict(model="n"), dict(temperature=0.5), dict(max_tokens=6),
                   dict(endpoint="http://127.0.0.1:8001/v1"), dict(api="completions"),
                   dict(messages=[{"role": "user", "content": "y"}])):
        assert cache_key(**{**base, **change}) != cache_key(**base)
    assert len(cache_key(**base)) == 64


def test_wal_mode_and_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path / "deep" / "er")
    assert cache.path == tmp_path / "deep" / "er" / FILENAME
    mode = cache._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    cache.close()
    monkeypatch.setenv("JUDGECLI_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_dir("explicit") == Path("explicit")
    assert default_dir() == tmp_path / "env"
    monkeypatch.delenv("JUDGECLI_CACHE_DIR")
    assert default_dir() == tmp_path / "xdg" / "judgecli"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_dir() == Path.home() / ".cache" / "judgecli"


def test_an_unusable_cache_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JudgecliError, match="cannot open the cache .*--no-cache"):
        Cache(blocker)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(JudgecliError, match="cannot open the cache"):
        Cache(tmp_path / "bad")


WRITER = """
import sys
from judgecli.backends.openai.cache import Cache, cache_key
cache = Cache(sys.argv[1])
name = sys.argv[2]
for i in range(300):
    key = cache_key(n=i)
    cache.put(key, {"by": name, "i": i})
    got = cache.get(key)
    assert got is not None and got["i"] == i, got
print("ok")
"""


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    """Two runs writing the same keys at once: no error, no lost or torn row, and each key
    keeps the one reply stored first."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("one", "two")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
    cache = Cache(tmp_path)
    assert len(cache) == 300
    rows = [cache.get(cache_key(n=i)) for i in range(300)]
    assert all(r is not None and r["by"] in ("one", "two") for r in rows)
    assert cache._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cache.close()
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("SELECT COUNT(DISTINCT key) FROM replies").fetchone()[0] == 300
