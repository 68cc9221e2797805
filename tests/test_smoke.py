from __future__ import annotations

import subprocess
import sys


def test_help_and_version_start_without_torch() -> None:
    code = ("import sys, judgecli.cli.commands\n"
            "assert 'torch' not in sys.modules and 'openai' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "judgecli", "--version"], check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("judgecli ")


def test_every_command_has_help() -> None:
    for command in ("judge", "compare", "calibrate", "report", "templates"):
        out = subprocess.run([sys.executable, "-m", "judgecli", command, "--help"],
                             check=True, capture_output=True, text=True).stdout
        assert "Usage:" in out and "--help" in out
