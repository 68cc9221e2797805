"""A real tiny transformers judge for the Ray tests, loaded inside each Ray actor, that
says which items each window it is handed holds (one JSON line a call, with its PID, in
``log``) and holds the window with item ``hold`` until the file ``go`` exists: the test
knows an actor is mid-window, and which process to kill, from an event rather than a clock.

Imported by the actors (tests/ is on their PYTHONPATH); the loader is pickled by reference.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any

from judgecli.backends.base import Completion, Request
from judgecli.backends.hf.judge import TransformersJudge

ITEM = re.compile(r"ITEM-(\d+) ")


class GatedJudge(TransformersJudge):
    def __init__(self, model: str, *, log: str, go: str, hold: int | None,
                 **options: Any) -> None:
        super().__init__(model, **options)
        self.log, self.go, self.hold = log, go, hold

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        items = sorted({int(n) for r in requests for n in ITEM.findall(r.prompt.text or "")})
        with open(self.log, "a") as out:  # one small append a call: lines do not mix
            out.write(json.dumps({"pid": os.getpid(), "items": items}) + "\n")
        if self.hold in items:
            while not os.path.exists(self.go):  # until the test has killed the first holder
                time.sleep(0.01)
        return super().complete(requests)


def gated_loader(spec: str, *, log: str, go: str, hold: int | None = None,
                 **options: Any) -> GatedJudge:
    return GatedJudge(spec, log=log, go=go, hold=hold, **options)


def calls(log: str) -> list[dict[str, Any]]:
    if not os.path.exists(log):
        return []
    with open(log) as lines:
        return [json.loads(line) for line in lines if line.endswith("\n")]
