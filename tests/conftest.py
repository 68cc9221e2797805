from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A run started in the background by a non-interactive shell ignores Ctrl-C, and its
    # children (the CLI processes the SIGINT tests start) would inherit that: undo it.
    signal.signal(signal.SIGINT, signal.default_int_handler)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each of pytest -n's workers (and the CLI processes its tests start) uses one thread:
    # torch would otherwise start a thread a core in every worker and oversubscribe them.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama judge saved to disk, as any checkpoint is."""
    from tiny_judge import save_tiny_judge

    return save_tiny_judge(tmp_path_factory.mktemp("judges") / "tiny")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    # Split on "\n" only: str.splitlines() would also split inside strings at U+2028 etc.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")
            if line.strip()]


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, str, str]:
    """Run ``judgecli ARGS`` in this process: (exit code, stdout, stderr)."""
    from judgecli.cli.commands import main

    monkeypatch.setattr(sys, "argv", ["judgecli", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), captured.out, captured.err
