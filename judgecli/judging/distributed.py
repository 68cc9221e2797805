"""Data parallel judging: ``accelerate launch --num_processes N -m judgecli judge ...``.

Each process (``RANK`` of ``WORLD_SIZE``, as ``accelerate launch`` and ``torchrun`` set them)
judges the input windows w with w % N == RANK (the windows are the fixed input slices of
runner.judge_file, so each is batched exactly as a single process batches it) and appends
its records to its own shard, ``OUTPUT.part<RANK>-of-<N>``. When every shard is finished
(a ``.done`` file each), process 0 merges them into OUTPUT in input order and removes them.
No process group is needed, so it works on CPUs (gloo or not) and GPUs alike. ``--resume``
continues the shards of an interrupted run, and then merges.

On one machine only: across machines the shards meet on a shared file system, a recipe that
was documented but never tested; ``--ray`` (``backends.raypool``) judges across machines,
merging in the driver, and a launch across machines is told so.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, OutputError
from ..io.ids import id_key
from ..io.jsonl import STDIN
from ..io.output import JsonlWriter, refuse_existing, scan_output
from ..io.records import Item, read_items

MERGE_TIMEOUT = 7 * 24 * 3600.0  # process 0 waits for the slowest shard this long at most


@dataclass(frozen=True)
class Shard:
    rank: int
    world: int

    @classmethod
    def from_env(cls) -> Shard | None:
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if world <= 1:
            return None
        return cls(rank=int(os.environ.get("RANK", "0") or 0), world=world)

    def part(self, output: str, rank: int | None = None) -> str:
        return f"{output}.part{self.rank if rank is None else rank}-of-{self.world}"

    def mine(self, window: int) -> bool:
        return window % self.world == self.rank

    def finish(self, output: str) -> None:
        Path(self.part(output) + ".done").write_text("done\n")

    @staticmethod
    def across_machines() -> bool:
        """Whether the launcher started processes on more than one machine (torchrun, and
        so ``accelerate launch``, sets LOCAL_WORLD_SIZE to this machine's share)."""
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)) or world)
        return local < world


def shard_done_ids(path: str) -> set[Any]:
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return set()
    done, good = scan_output(path)
    with open(path, "r+b") as handle:
        handle.truncate(good)  # a torn last line of a killed run
    return done


def merge(shard: Shard, output: str, window_ids: Iterator[list[Any]], done: set[Any],
          *, resume: bool, timeout: float = MERGE_TIMEOUT) -> int:
    """Process 0: wait for every shard, then write the new records into ``output`` in
    input order. ``window_ids`` yields each window's ids; ``done`` the ids already in it."""
    parts = [shard.part(output, r) for r in range(shard.world)]
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p + ".done") for p in parts):
        if time.monotonic() > deadline:
            raise OutputError(f"{output}: gave up waiting for the other processes' shards")
        time.sleep(0.2)
    readers = [_lines(p) for p in parts]
    written = 0
    with open(output, "ab" if resume else "wb") as out:
        for window, ids in enumerate(window_ids):
            reader = readers[window % shard.world]
            for item_id in ids:
                if id_key(item_id) in done:
                    continue
                found = next(reader, None)
                if found is None or id_key(found[0]) != id_key(item_id):
                    raise OutputError(f"{parts[window % shard.world]}: id {item_id!r} is not "
                                      "where it belongs; run again with --resume")
                out.write(found[1])
                written += 1
        out.flush()
        os.fsync(out.fileno())
    for p in parts:
        for path in (p, p + ".done"):
            if os.path.exists(path):
                os.remove(path)
    return written


def _lines(path: str) -> Iterator[tuple[Any, bytes]]:
    """(id, raw line) of each record of a shard; the raw bytes are copied as written."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                yield json.loads(raw)["id"], raw


def open_shard(shard: Shard, output_path: str | None, *, resume: bool, force: bool,
                ) -> tuple[JsonlWriter, set[Any], set[Any]]:
    if output_path is None or output_path == STDIN:
        raise OutputError("judging with several processes needs an output file (-o FILE)")
    main_done: set[Any] = set()
    if resume:
        if os.path.exists(output_path) and os.path.getsize(output_path) > 0:
            main_done = scan_output(output_path)[0]
    elif not force:
        refuse_existing(output_path)
    part = shard.part(output_path)
    for stale in ((part + ".done", part) if not resume else (part + ".done",)):
        if os.path.exists(stale):
            os.remove(stale)
    done = main_done | shard_done_ids(part)
    return JsonlWriter(open(part, "ab"), close=True), done, main_done


def window_ids(input_path: str, mapping: dict[str, str] | None,
                check_item: Callable[[Item], None], size: int) -> Iterator[list[Any]]:
    """The ids of each input window, as judge_file formed them (bad lines left out)."""
    ids: list[Any] = []
    for item in read_items(input_path, mapping, lambda *_: None):
        try:
            check_item(item)
        except InputError:
            continue
        ids.append(item.id)
        if len(ids) == size:
            yield ids
            ids = []
    if ids:
        yield ids
