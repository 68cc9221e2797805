"""The published packages themselves, as ``pip install`` gives them, for differential tests.

prometheus-eval 0.1.20 and alpaca-eval 0.6.6 need newer huggingface_hub, openai and httpx
than judgecli's environment pins, so they live in their own virtual environment (built by
``.ci/originals.sh``; ``.ci/run`` builds it and sets ``JUDGECLI_ORIGINALS_PYTHON`` to its
Python). ``call`` runs ``originals_driver.py`` there; without it the tests that need it skip,
saying how to build it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

DRIVER = Path(__file__).with_name("originals_driver.py")
VERSIONS = {"prometheus-eval": "0.1.20", "alpaca-eval": "0.6.6"}


def python() -> str:
    """The originals' Python, or skip the test saying how to get one."""
    path = os.environ.get("JUDGECLI_ORIGINALS_PYTHON", "")
    if not path or not Path(path).is_file():
        pytest.skip("the published packages are not installed: run `sh .ci/originals.sh "
                    "VENV` and set JUDGECLI_ORIGINALS_PYTHON=VENV/bin/python (.ci/run does)")
    return path


def call(task: str, request: Any = None) -> Any:
    proc = subprocess.run([python(), str(DRIVER), task], input=json.dumps(request),
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"originals_driver.py {task} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)
