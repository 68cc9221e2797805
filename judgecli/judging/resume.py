"""What ``--resume`` checks before it appends, and how it keeps the output in input order.

A resumed run appends to a file judged before. It is refused when this run's settings
(judge, template, mode, swap, combine) differ from those the file's records were judged
with: a file holds one set of settings, and ``report`` labels it with one template.

A resumed run appends its records after the earlier ones. Where an item it judged comes
before an earlier record in the input (``--retry-errors`` judges failed items again; a
``--max-cost`` stop can leave a gap), the file is rewritten in input order after the run:
both parts are already in input order, so they are merged by streaming, knowing only the
input position and id hash of each record (16 bytes a record).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from array import array
from typing import Any

from ..errors import OutputError
from ..io.ids import id_hash

KEYS = ("judge", "template", "mode", "swap", "combine")


def recorded_settings(judgment: dict[str, Any]) -> dict[str, Any]:
    """The settings a record's ``judgment`` was made with (those it shows)."""
    if judgment.get("decided_by") in ("fallback", "abstained") and \
            isinstance(judgment.get("local"), dict):
        judgment = judgment["local"]  # a cascade: the local judge's settings decide
    out = {k: judgment[k] for k in ("judge", "template", "mode") if k in judgment}
    orders = judgment.get("orders")
    if "score_a" in judgment and isinstance(orders, list):  # one judge's pairwise judgment
        out["swap"] = len(orders) == 2
        if "combine" in judgment:
            out["combine"] = judgment["combine"]
    return out


def run_settings(judging: Any) -> dict[str, Any]:
    """The settings a run's records will show: those of a ``Judging``; of the first judge of
    a review, of the local judge of a cascade; a panel's judge is "panel"."""
    judging = getattr(judging, "first", None) or getattr(judging, "local", None) or judging
    if hasattr(judging, "members"):
        return {"judge": "panel", "template": judging.template}
    options = judging.options
    out = {"judge": judging.judge.name, "template": options.template.name,
           "mode": judging.mode}
    if options.template.kind == "pair":
        out["swap"] = options.swap is not False
        if out["swap"]:
            out["combine"] = options.combine
    return out


def planned_settings(members: list[tuple[str | None, Any]], options: Any, *,
                     review: bool = False) -> dict[str, Any]:
    """:func:`run_settings` as far as they are known before any judge loads: ``members``,
    (judge spec, template) of each panel member or of the one judge; ``options``, the
    JudgeOptions; ``review``: a reviewer judges after the first judge. An ``auto`` mode is
    a function: which mode it is depends on the backend, which is imported only if needed."""
    from ..backends import BACKENDS, split_spec

    if len(members) > 1:
        names = {template.name for _, template in members}
        return {"judge": "panel", "template": names.pop() if len(names) == 1 else "mixed"}
    spec, template = members[0]
    out: dict[str, Any] = {"template": template.name}
    mode = options.mode
    if mode == "auto" and (review or template.score_line is None):
        mode = "explain"  # a reviewed judge explains itself (assemble.py)
    if spec is not None:
        prefix, model = split_spec(spec)
        out["judge"] = f"{prefix}:{model}" if prefix != "hf" else model  # as backends name it
        module, name, requirement, _ = BACKENDS[prefix]
        if mode == "auto" and importlib.util.find_spec(requirement) is not None:
            def auto() -> str:  # imports the backend (torch): only when all else matched
                judge = getattr(importlib.import_module(module), name)
                return "score" if judge.supports_score_mode else "explain"
            out["mode"] = auto
    if mode != "auto":
        out["mode"] = mode
    if template.kind == "pair":
        out["swap"] = options.swap is not False
        if out["swap"]:
            out["combine"] = options.combine
    return out


def first_judgment(path: str) -> dict[str, Any] | None:
    """The ``judgment`` of the first complete record of an output, if any (reads no more)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a torn write: the resume cuts it off
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # scan_output names a bad line
            if isinstance(record, dict) and isinstance(record.get("judgment"), dict):
                return record["judgment"]
    return None


def check_settings(path: str | None, ours: dict[str, Any]) -> None:
    """Refuse to resume ``path`` when this run's settings differ from its records'."""
    if path is None or path == "-":
        return
    judgment = first_judgment(path)
    if judgment is None:
        return
    theirs = recorded_settings(judgment)
    shared = [k for k in KEYS if k in theirs and k in ours]
    differ = [k for k in shared if not callable(ours[k]) and not _same(k, theirs[k], ours[k])]
    if not differ:  # then the settings known only by importing a backend
        ours = {k: v() if callable(v) else v for k, v in ours.items()}
        differ = [k for k in shared if not _same(k, theirs[k], ours[k])]
    if differ:
        raise OutputError(f"{path} was judged with {_describe(theirs, differ)}; this run: "
                          f"{_describe(ours, differ)}; use -o elsewhere, or --force "
                          "instead of --resume to judge it all again")


def _same(key: str, a: Any, b: Any) -> bool:
    if a == b:
        return True
    # One local judge named by two paths (./judge and /abs/judge).
    return key == "judge" and isinstance(a, str) and isinstance(b, str) and \
        os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def _describe(settings: dict[str, Any], keys: list[str]) -> str:
    return ", ".join(("swap" if settings[k] else "--no-swap") if k == "swap"
                     else f"{k} {settings[k]}" for k in keys)


class InputOrder:
    """Where each record of a resumed output stands in the input, to merge the records
    judged before (``kept``) with those this run appends (``written``) in input order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.split = os.path.getsize(path)  # the earlier records end here
        self._kept = (array("q"), array("q"))  # input positions, id hashes
        self._written = (array("q"), array("q"))

    def kept(self, position: int, item_id: Any) -> None:
        self._kept[0].append(position)
        self._kept[1].append(id_hash(item_id))

    def written(self, position: int, item_id: Any) -> None:
        self._written[0].append(position)
        self._written[1].append(id_hash(item_id))

    def needed(self) -> bool:
        """Whether a record this run wrote belongs before one written earlier."""
        kept, written = self._kept[0], self._written[0]
        return bool(kept) and bool(written) and written[0] < kept[-1]

    def restore(self) -> bool:
        """Rewrite the file in input order if needed (atomically). False where the earlier
        part was not in input order or held records the input lacks: then the file is left
        as it is (every record kept), and only the order is not restored."""
        if not self.needed():
            return True
        temporary = self.path + ".order.tmp"
        try:
            with open(self.path, "rb") as before, open(self.path, "rb") as after, \
                    open(temporary, "wb") as out:
                after.seek(self.split)
                if not self._merge(before, after, out):
                    os.remove(temporary)
                    return False
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        return True

    def _merge(self, before: Any, after: Any, out: Any) -> bool:
        (kept, kept_ids), (written, written_ids) = self._kept, self._written
        i = j = 0
        while i < len(kept) or j < len(written):
            if j == len(written) or (i < len(kept) and kept[i] < written[j]):
                line, expected, i = _next_line(before, self.split), kept_ids[i], i + 1
            else:
                line, expected, j = _next_line(after, None), written_ids[j], j + 1
            if line is None or _id_hash(line) != expected:
                return False
            out.write(line)
        # Every record of the file must have been placed.
        return _next_line(before, self.split) is None and _next_line(after, None) is None


def _next_line(handle: Any, end: int | None) -> bytes | None:
    """The next non-blank complete line before byte ``end``, or None."""
    while end is None or handle.tell() < end:
        line = handle.readline()
        if not line.endswith(b"\n"):
            return None
        if line.strip():
            return line
    return None


def _id_hash(line: bytes) -> int | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return id_hash(record["id"]) if isinstance(record, dict) and "id" in record else None
