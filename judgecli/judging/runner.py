"""Judging a stream of items: render, call the judge in batches, parse, combine, write.

Items are read lazily and handed to the judge a window at a time (a few batches, so the
backend can sort them by length). Records are written in input order: as each item is
judged where the judge reports its replies as they come (an API judge: ``Judge.wait``),
else as each window is done. Memory therefore does not grow with the input, and a killed
run keeps everything written. Ctrl-C inside a window writes the window's items whose
judgments all completed, up to the first that did not (so that ``--resume`` goes on in
input order).
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from ..backends.base import Judge
from ..errors import BudgetExhausted, InputError, JudgecliError, OutputError
from ..io.ids import id_key
from ..io.jsonl import STDIN, count_lines, dumps
from ..io.output import open_output
from ..io.records import Item, read_items
from ..io.rejects import Rejects, check_rejects
from ..templates import Prompt
from .core import MODES, JudgeOptions, Judging, Started, resolve_mode
from .distributed import Shard, merge, open_shard, window_ids
from .resume import InputOrder, check_settings, run_settings
from .summary import RunSummary, final_verdict

__all__ = ["MODES", "JudgeOptions", "Judging", "RunSummary", "dry_run", "judge_file",
           "resolve_mode"]

def judge_file(input_path: str, output_path: str | None, judge: Judge, options: JudgeOptions,
               *, mapping: dict[str, str] | None = None, resume: bool = False,
               force: bool = False, skip_invalid: bool = False, progress: bool = True,
               window: int | None = None, judging: Any = None,
               retry_errors: bool = False) -> RunSummary:
    """Judge every item of a JSONL file (or stdin) into a JSONL output (or stdout).

    ``resume``: refused where the output was judged with other settings (judge, template,
    mode, swap, combine); the output ends in input order. ``retry_errors`` (with ``resume``):
    judge again the items whose judgment failed. A KeyboardInterrupt leaves with
    ``written``: the records this run wrote.

    ``judging``: something with ``judge_items`` (a cascade.Cascade) to use instead of
    ``Judging(judge, options)``."""
    from tqdm import tqdm

    judging = judging or Judging(judge, options)
    # A panel or a review checks each item against every template it will render.
    check_item = getattr(judging, "check_item", options.template.check_item)
    summary = RunSummary(output=output_path)
    started = time.monotonic()
    shard = Shard.from_env()
    # Every process reads the whole input; one of them writes the rejects.
    rejects = Rejects(input_path) if skip_invalid and (shard is None or shard.rank == 0) \
        else None

    def reject(line: int, raw: bytes, error: InputError) -> None:
        if rejects is not None:
            rejects.write(line, raw, error)
            summary.rejected, summary.rejects = rejects.count, str(rejects.path)

    def checked(stream: Iterable[Item]) -> Iterator[Item]:
        # Template mismatches are input errors too: find them before paying for a batch.
        for item in stream:
            try:
                check_item(item)
            except InputError as exc:
                if not skip_invalid:
                    raise
                reject(item.line, dumps(item.record).encode(), exc)
                continue
            yield item

    if output_path not in (None, STDIN) and input_path != STDIN and os.path.exists(
            output_path) and os.path.samefile(input_path, output_path):
        raise OutputError(f"{output_path} is the input file; write the output elsewhere")
    if retry_errors and not resume:
        raise JudgecliError("--retry-errors works with --resume")
    if rejects is not None:
        check_rejects(input_path, resume=resume, force=force)
    if resume:
        check_settings(output_path, run_settings(judging))
    order: InputOrder | None = None
    if shard is None:
        writer, done = open_output(output_path, resume=resume, force=force,
                                   retry_errors=retry_errors)
        if done and output_path is not None:
            order = InputOrder(output_path)
    else:
        if retry_errors:
            raise JudgecliError("--retry-errors: run it in one process (the shards of a "
                                "data-parallel run read the output at once)")
        writer, done, main_done = open_shard(shard, output_path, resume=resume, force=force)
    total = count_lines(input_path) if progress else None
    bar = tqdm(total=total, unit="item", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, desc="judging")
    try:
        items = read_items(input_path, mapping, reject if skip_invalid else None)
        # Windows are fixed slices of the input (items 0..W-1, W..2W-1, ...), whether or not
        # some of their items were judged before: a resumed run then batches the remaining
        # windows exactly as an uninterrupted run does, and gives the same numbers.
        size = window or judge.preferred_batch() * 4
        # A judge that overlaps windows (an API judge) is handed the next window before the
        # last one is finished: its requests fill the connections the last one's stragglers
        # (retries waiting out a backoff) leave idle, and never go before them.
        # A pool of Ray actors is handed several windows ahead (``Judge.in_flight_windows``).
        overlap = type(judging) is Judging and judge.overlaps
        depth = max(2, judge.in_flight_windows) if overlap else 1
        in_hand: deque[tuple[list[tuple[int, Item]], Started]] = deque()  # begun, unfinished

        def flush(pending: list[tuple[int, Item]]) -> None:
            if not overlap:
                started = judging.start_items([item for _, item in pending]) \
                    if type(judging) is Judging else None
                return _flush(judging, pending, writer, summary, bar, order, started)
            in_hand.append((pending, judging.start_items([item for _, item in pending])))
            while len(in_hand) >= depth:
                previous = in_hand.popleft()
                _flush(judging, previous[0], writer, summary, bar, order, previous[1])

        pending: list[tuple[int, Item]] = []
        for index, item in enumerate(checked(items)):
            if index % size == 0 and pending:
                flush(pending)
                pending = []
            if shard is not None and not shard.mine(index // size):
                continue
            if id_key(item.id) in done:
                summary.resumed += 1
                bar.update(1)
                if order is not None:
                    order.kept(index, item.id)
                continue
            pending.append((index, item))
        if pending:
            flush(pending)
        while in_hand:
            previous = in_hand.popleft()
            _flush(judging, previous[0], writer, summary, bar, order, previous[1])
    except BudgetExhausted as stop:
        summary.stopped = str(stop)
    except KeyboardInterrupt as stop:
        stop.written = summary.judged  # type: ignore[attr-defined]
        stop.output = output_path  # type: ignore[attr-defined]
        raise
    finally:
        bar.close()
        writer.close()
        if rejects is not None:
            rejects.close()
        if order is not None:
            order.restore()
        summary.seconds = time.monotonic() - started
    if shard is not None and summary.stopped is None:
        assert output_path is not None
        shard.finish(output_path)
        if shard.rank == 0:
            merge(shard, output_path, window_ids(input_path, mapping, check_item, size),
                  main_done, resume=resume)
    return summary


def _flush(judging: Judging, pending: list[tuple[int, Item]], writer: Any,
           summary: RunSummary, bar: Any, order: InputOrder | None,
           started: Started | None = None) -> None:
    """Judge a window (or finish one ``started``, writing each item as soon as it is
    judged where the judge can tell) and write its records."""
    position = {id_key(item.id): index for index, item in pending} if order else {}

    def write(records: list[dict[str, Any]]) -> None:
        writer.write_many(records)
        if order is not None:
            for record in records:
                order.written(position[id_key(record["id"])], record["id"])
        for record in records:
            judgment = record["judgment"]
            summary.judged += 1
            if judgment.get("decided_by") == "abstained":
                summary.abstained += 1  # a cascade trusted no verdict: not a failure
            elif judgment["error"] is not None:
                summary.errors += 1
            elif (verdict := final_verdict(judgment)) is not None:
                summary.verdicts[verdict] += 1
            summary.usage.update(judgment.get("usage", {}))
        bar.update(len(records))

    stopped: BaseException | None = None
    try:
        records = judging.judge_items([item for _, item in pending]) if started is None else \
            judging.finish_items(started, emit=write)
    except BudgetExhausted as stop:
        records, stopped = stop.records, stop
    except KeyboardInterrupt as stop:
        # What the judging finished before Ctrl-C (only its own: a panel's member's records
        # are not the panel's).
        records = getattr(stop, "records", []) if getattr(stop, "judging", None) is judging \
            else []
        stopped = stop
    try:
        write(records)
    except OSError:
        if not isinstance(stopped, KeyboardInterrupt):
            raise
        # stdout's reader left (that was the interrupt): nothing to write to
    if stopped is not None:
        raise stopped


def dry_run(input_path: str, options: JudgeOptions, out: IO[str], *,
            mapping: dict[str, str] | None = None,
            on_prompt: Callable[[Prompt], None] | None = None,
            extra: dict[str, str] | None = None) -> int:
    """Print the exact prompt of every item and order, judging nothing. Returns the count.
    ``on_prompt`` sees each prompt too (the CLI estimates an API judge's cost with it);
    ``extra``: values of more placeholders (a review's, to estimate its cost)."""
    count = 0
    for item in read_items(input_path, mapping):
        for order in options.orders(item):
            prompt: Prompt = options.template.render(item, order, extra)
            row: dict[str, Any] = {"id": item.id, "order": order,
                                   "template": options.template.name}
            if prompt.text is not None:
                row["prompt"] = prompt.text
            else:
                row["messages"] = list(prompt.messages or ())
            out.write(dumps(row) + "\n")
            if on_prompt is not None:
                on_prompt(prompt)
            count += 1
    out.flush()
    return count
