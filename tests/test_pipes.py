"""A closed stdout stops the run at once (issue 16 item 11): `judgecli judge … | head -1`
must not go on judging, and paying for, every item after the reader left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_jsonl
from fault_server import FaultServer

N = 400


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp / "cache"))
    env.pop("OPENAI_BASE_URL", None)
    return env


def test_judge_stops_when_the_reader_of_stdout_leaves(tmp_path: Path) -> None:
    rows = [{"id": i, "question": f"ITEM-{i} q", "answer_a": "GOOD", "answer_b": "BAD"}
            for i in range(N)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    with FaultServer(latency=0.05) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "judgecli", "judge", str(path), "--judge",
             "openai:gpt-4o", "--base-url", server.url, "-t", "mtbench-pair", "-q",
             "--concurrency", "8"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
        assert proc.stdout is not None and proc.stderr is not None
        first = json.loads(proc.stdout.readline())  # what `head -1` reads, then it leaves
        proc.stdout.close()
        left = server.total
        started = time.monotonic()
        code = proc.wait(timeout=60)
        stopped_after = time.monotonic() - started
        err = proc.stderr.read().decode()
        total = server.total
    assert first["id"] == 0 and first["judgment"]["error"] is None
    assert code == 141, err  # as a shell tool killed by SIGPIPE
    assert "Traceback" not in err and "Task was destroyed" not in err
    # It stopped at once (counted in requests below), not after the other ~2 x 400.
    assert stopped_after < 60
    assert total < 2 * N / 2, (left, total)
    print(f"requests when the reader left: {left}, in all: {total} of {2 * N}")
