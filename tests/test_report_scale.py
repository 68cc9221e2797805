"""Scale check, not a timed test: JUDGECLI_REPORT_SCALE=1000000 pytest tests/test_report_scale.py -s

Writes that many synthetic judgment records (about 1 KB each), reports them in a child
process and prints its wall time and peak memory. It asserts only what must hold at any
speed: every item is counted, the figures equal those counted while writing, and peak
memory stays far below the size of the file.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCALE = int(os.environ.get("JUDGECLI_REPORT_SCALE", "0"))


@pytest.mark.skipif(SCALE <= 0, reason="set JUDGECLI_REPORT_SCALE=N to run")
def test_report_scales(tmp_path: Path) -> None:
    rng = random.Random(0)
    path = tmp_path / "big.jsonl"
    right = failed = consistent = 0
    answer = "x" * 300
    with open(path, "w", encoding="utf-8") as out:
        for i in range(SCALE):
            label, ab = rng.choice("AB"), rng.choice(["A", "B", "tie"])
            ba = ab if rng.random() < 0.8 else rng.choice(["A", "B", "tie"])
            error = rng.random() < 0.01
            verdict = None if error else (ab if ab == ba else "tie")
            right += verdict == label
            failed += error
            consistent += not error and ab == ba
            orders = [{"order": o, "text": "8 7\nreasons", "scores": [8.0, 7.0],
                       "score_a": 8.0, "score_b": 7.0, "verdict": None if error else v,
                       "probs": {"A": 0.5, "B": 0.3, "tie": 0.2},
                       "error": "unparseable" if error else None}
                      for o, v in (("AB", ab), ("BA", ba))]
            out.write(json.dumps({
                "id": i, "question": f"question {i}", "answer_a": answer,
                "answer_b": answer[: rng.randint(1, 300)], "label": label,
                "category": rng.choice(["math", "code", "writing"]),
                "judgment": {"judge": "j", "template": "judgelm-pair", "mode": "score",
                             "verdict": verdict, "score_a": None, "score_b": None,
                             "confidence": None if error else rng.random(),
                             "consistent": None if error else ab == ba,
                             "error": "AB: unparseable" if error else None,
                             "orders": orders}}) + "\n")
    size = path.stat().st_size
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "judgecli", "report", str(path), "--json",
                           "--by", "category"], capture_output=True, text=True)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    print(f"\n{SCALE} judgments, {size / 1e6:.0f} MB: {seconds:.1f} s, peak RSS "
          f"{peak / 1e6:.0f} MB")
    assert report["n"] == SCALE and report["n_failed"] == failed
    assert report["agreement"] == pytest.approx(right / SCALE)
    assert report["consistency"] == pytest.approx(consistent / SCALE)
    assert sum(g["n"] for g in report["groups"]) == SCALE
    assert peak < max(600e6, size / 2)
