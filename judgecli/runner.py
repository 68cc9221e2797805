"""Judging a stream of items: render, call the judge in batches, parse, combine, write.

Items are read lazily and judged a window at a time (a few batches, so the backend can sort
them by length); each window's records are written, in input order, as soon as it is done.
Memory therefore does not grow with the input, and a killed run keeps everything written.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import IO, Any

from .backends.base import Completion, Judge, Request
from .confidence import line_prob, verdict_probs
from .debias import COMBINE_RULES, OrderResult, combine, map_back
from .indicators import indicators
from .errors import BudgetExhausted, InputError, JudgecliError, OutputError
from .distributed import Shard, merge, open_shard, window_ids
from .jsonl import STDIN, dumps, id_key, open_output
from .parsers import ParseFailure, one_line, parse
from .records import PAIR, SINGLE, Item, read_items
from .templates import Prompt, Template

MODES = ("auto", "score", "explain")


@dataclass(frozen=True)
class JudgeOptions:
    template: Template
    mode: str = "auto"
    swap: bool | None = None  # None: on for pairwise templates
    combine: str = "strict"
    max_new_tokens: int = 512

    def orders(self, item: Item) -> tuple[str, ...]:
        swap = self.swap if self.swap is not None else True
        return ("AB", "BA") if swap and item.kind == PAIR else ("AB",)


def resolve_mode(options: JudgeOptions, judge: Judge | None) -> str:
    """``auto`` is score mode where the template has a score line and the judge can score."""
    template = options.template
    can_score = template.score_line is not None
    if options.mode == "score":
        if not can_score:
            raise JudgecliError(f"template '{template.name}' writes its verdict after an "
                                "explanation, so it has no score mode; use --mode explain")
        if judge is not None and not judge.supports_score_mode:
            raise JudgecliError(f"judge '{judge.name}' gives no next-token distributions; "
                                "use --mode explain")
        return "score"
    if options.mode == "explain":
        return "explain"
    if options.mode != "auto":
        raise JudgecliError(f"--mode must be one of {', '.join(MODES)}")
    return "score" if can_score and (judge is None or judge.supports_score_mode) else "explain"


class Judging:
    """Turns items into judgment records with one judge and one set of options."""

    def __init__(self, judge: Judge, options: JudgeOptions) -> None:
        if options.combine not in COMBINE_RULES:
            raise JudgecliError(f"--combine must be one of {', '.join(COMBINE_RULES)}")
        self.judge = judge
        self.options = options
        self.mode = resolve_mode(options, judge)

    def check_item(self, item: Item) -> None:
        self.options.template.check_item(item)

    def requests(self, item: Item,
                 extra: dict[str, dict[str, str]] | None = None) -> list[Request]:
        """One request per order; ``extra``: order -> more placeholder values (a review)."""
        template = self.options.template
        score = self.mode == "score"
        count = template.expected_count(item) or 1
        return [Request(prompt=template.render(item, order, (extra or {}).get(order)),
                        score_line=template.score_line if score else None,
                        count=count if score else 0,
                        max_new_tokens=self.options.max_new_tokens, parser=template.parser,
                        values=template.score_line.values if template.score_line else ())
                for order in self.options.orders(item)]

    def judge_items(self, items: list[Item],
                    extras: list[dict[str, dict[str, str]]] | None = None,
                    ) -> list[dict[str, Any]]:
        """Judge a window of items; one output record per item, in the same order.
        ``extras``: per item, the extra placeholder values of each order (a review)."""
        requests: list[Request] = []
        spans = []
        for number, item in enumerate(items):
            mine = self.requests(item, extras[number] if extras else None)
            spans.append((len(requests), len(mine)))
            requests.extend(mine)
        try:
            completions = self.judge.complete(requests) if requests else []
        except BudgetExhausted as stop:
            # Items whose every request was answered are kept; the others are not written
            # at all (not even as errors), so that --resume judges them.
            got = stop.completions
            stop.records = [self.record(item, got[start:start + n])
                            for item, (start, n) in zip(items, spans)
                            if len(got) >= start + n
                            and all(c is not None for c in got[start:start + n])]
            raise
        if len(completions) != len(requests):
            raise JudgecliError(f"judge '{self.judge.name}' returned {len(completions)} "
                                f"results for {len(requests)} requests")
        return [self.record(item, completions[start:start + n])
                for item, (start, n) in zip(items, spans)]

    def record(self, item: Item, completions: list[Completion]) -> dict[str, Any]:
        template = self.options.template
        orders = self.options.orders(item)
        results = [self._order_result(item, order, c) for order, c in zip(orders, completions)]
        judgment: dict[str, Any] = {"judge": self.judge.name, "template": template.name,
                                    "mode": self.mode}
        try:
            self._judgment(item, judgment, results, completions)
        except Exception as exc:  # no reply may stop the run: a bug met here is its error
            reason = f"could not read the replies: {one_line(exc)}"
            results = [replace(r, error=r.error or reason) for r in results]
            keys = ("score_a", "score_b") if item.kind == PAIR else () \
                if template.parser == "pass-fail" else \
                ("score" if item.kind == SINGLE else "scores",)
            judgment.pop("indicators", None)
            judgment.update(dict.fromkeys(("verdict", *keys, "confidence", "consistent")),
                            error="; ".join(f"{r.order}: {r.error}" for r in results)
                            if item.kind == PAIR else results[0].error)
        judgment["orders"] = [r.to_json() for r in results]
        usage = Counter[str]()
        for c in completions:
            usage.update({k: v for k, v in c.usage.items() if isinstance(v, int)})
        if usage:
            judgment["usage"] = dict(usage)
        record = dict(item.record)
        if "id" not in record:
            record = {"id": item.id, **record}
        record["judgment"] = judgment
        return record

    def _judgment(self, item: Item, judgment: dict[str, Any], results: list[OrderResult],
                  completions: list[Completion]) -> None:
        """Fill in ``judgment`` from the orders' results."""
        template = self.options.template
        if item.kind == PAIR:
            combined = combine(results, self.options.combine)
            judgment.update(verdict=combined.verdict, score_a=combined.score_a,
                            score_b=combined.score_b, confidence=combined.confidence,
                            consistent=combined.consistent, error=combined.error)
            found = indicators(results, completions, combined.verdict)
            if found:
                judgment["indicators"] = found
        elif template.parser == "pass-fail":
            # A binary judgment of one answer: a pass / fail verdict and no score.
            only = results[0]
            ok = only.error is None
            judgment.update(verdict=only.verdict if ok else None,
                            confidence=only.probs.get(only.verdict) if ok and only.probs
                            and only.verdict else None, consistent=None, error=only.error)
        else:
            only, completion = results[0], completions[0]
            scores = list(only.scores) if only.error is None and only.scores else None
            value: Any = scores
            if item.kind == SINGLE:
                value = scores[0] if scores else None
            judgment.update(verdict=None, **{"score" if item.kind == SINGLE else "scores": value},
                            confidence=self._line_confidence(completion, scores)
                            if scores else None,
                            consistent=None, error=only.error)

    def _order_result(self, item: Item, order: str, completion: Completion) -> OrderResult:
        if completion.error is not None or completion.text is None:
            return OrderResult(order=order, text=completion.text,
                               error=completion.error or "the judge returned no text")
        template = self.options.template
        try:
            parsed = parse(template.parser, completion.text, template.expected_count(item))
            if item.kind != PAIR:
                probs = verdict_probs(completion.slot_probs, template.parser) \
                    if parsed.verdict is not None else None
                return OrderResult(order=order, text=completion.text, scores=parsed.scores,
                                   verdict=parsed.verdict, probs=probs)
            probs = verdict_probs(completion.slot_probs, template.parser)
            return map_back(order, parsed, completion.text, probs)
        except ParseFailure as exc:
            return OrderResult(order=order, text=completion.text, error=f"unparseable: {exc}")
        except Exception as exc:  # no reply may stop the run: a bug met here is its error
            return OrderResult(order=order, text=completion.text,
                               error=f"could not read the reply: {one_line(exc)}")

    def _line_confidence(self, completion: Completion, scores: list[float]) -> float | None:
        """Single and multi answer: the probability of the score line written."""
        line = self.options.template.score_line
        if self.options.template.parser == "final-rating" and completion.slot_probs:
            # One rating, read where it was written (an API judge's logprobs).
            return completion.slot_probs[0].get(f"{scores[0]:g}")
        if not completion.slot_probs or line is None or completion.text is None:
            return None
        # The line as written: prefix, the values joined by sep, end ("[[7]]", "8 9\n").
        text = completion.text.lstrip()
        if line.prefix and text.startswith(line.prefix):
            text = text[len(line.prefix):]
        body = (text.split(line.end, 1)[0] if line.end else text).split("\n")[0].strip()
        values = body.split(line.sep) if line.sep else [body]
        return line_prob(completion.slot_probs, values)


@dataclass
class RunSummary:
    judged: int = 0
    errors: int = 0
    resumed: int = 0
    rejected: int = 0
    seconds: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)
    usage: Counter[str] = field(default_factory=Counter)
    output: str | None = None
    stopped: str | None = None  # why the run stopped early (--max-cost), if it did

    def line(self) -> str:
        parts = [f"judged {self.judged}"]
        if self.verdicts:
            parts.append(", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items())))
        parts.append(f"errors {self.errors}")
        if self.resumed:
            parts.append(f"already done {self.resumed}")
        if self.rejected:
            parts.append(f"rejected {self.rejected}")
        parts.append(f"{self.seconds:.1f}s")
        if self.stopped:
            parts.append("stopped early (--max-cost)")
        return "; ".join(parts)


def final_verdict(judgment: dict[str, Any]) -> Any:
    """The verdict a record ends with: a successful review's, else the judgment's own."""
    review = judgment.get("review")
    if isinstance(review, dict) and review.get("error") is None and \
            review.get("verdict") is not None:
        return review["verdict"]
    return judgment.get("verdict")


def rejected_path(input_path: str) -> Path:
    """Where --skip-invalid writes bad lines: FILE.rejected.jsonl beside the input."""
    if input_path == STDIN:
        return Path("stdin.rejected.jsonl")
    path = Path(input_path)
    return path.with_name(path.stem + ".rejected.jsonl") if path.suffix == ".jsonl" \
        else path.with_name(path.name + ".rejected.jsonl")


def _windows(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while window := list(islice(iterator, size)):
        yield window


def count_lines(path: str) -> int | None:
    """Lines in a file, for the progress bar (None for stdin)."""
    if path == STDIN:
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def judge_file(input_path: str, output_path: str | None, judge: Judge, options: JudgeOptions,
               *, mapping: dict[str, str] | None = None, resume: bool = False,
               force: bool = False, skip_invalid: bool = False, progress: bool = True,
               window: int | None = None, judging: Any = None,
               retry_errors: bool = False) -> RunSummary:
    """Judge every item of a JSONL file (or stdin) into a JSONL output (or stdout).

    ``retry_errors`` (with ``resume``): judge again the items whose judgment failed.

    ``judging``: something with ``judge_items`` (a cascade.Cascade) to use instead of
    ``Judging(judge, options)``."""
    from tqdm import tqdm

    judging = judging or Judging(judge, options)
    # A panel or a review checks each item against every template it will render.
    check_item = getattr(judging, "check_item", options.template.check_item)
    summary = RunSummary(output=output_path)
    started = time.monotonic()
    rejects: IO[str] | None = None

    shard = Shard.from_env()

    def reject(line: int, raw: bytes, error: InputError) -> None:
        nonlocal rejects
        if shard is not None and shard.rank != 0:
            return  # every process reads the whole input; one of them writes the rejects
        if rejects is None:
            rejects = open(rejected_path(input_path), "w", encoding="utf-8")
        rejects.write(dumps({"line": line, "error": error.reason, "field": error.field,
                             "raw": raw.decode("utf-8", "replace").rstrip("\r\n")}) + "\n")
        summary.rejected += 1

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
    if shard is None:
        writer, done = open_output(output_path, resume=resume, force=force,
                                   retry_errors=retry_errors)
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
        pending: list[Item] = []
        for index, item in enumerate(checked(items)):
            if index % size == 0 and pending:
                _flush(judging, pending, writer, summary, bar)
                pending = []
            if shard is not None and not shard.mine(index // size):
                continue
            if id_key(item.id) in done:
                summary.resumed += 1
                bar.update(1)
                continue
            pending.append(item)
        if pending:
            _flush(judging, pending, writer, summary, bar)
    except BudgetExhausted as stop:
        summary.stopped = str(stop)
    finally:
        bar.close()
        writer.close()
        if rejects is not None:
            rejects.close()
        summary.seconds = time.monotonic() - started
    if shard is not None and summary.stopped is None:
        assert output_path is not None
        shard.finish(output_path)
        if shard.rank == 0:
            merge(shard, output_path, window_ids(input_path, mapping, check_item, size),
                  main_done, resume=resume)
    return summary


def _flush(judging: Judging, items: list[Item], writer: Any, summary: RunSummary,
           bar: Any) -> None:
    stopped = None
    try:
        records = judging.judge_items(items)
    except BudgetExhausted as stop:
        records, stopped = stop.records, stop
    writer.write_many(records)
    for record in records:
        judgment = record["judgment"]
        summary.judged += 1
        if judgment["error"] is not None:
            summary.errors += 1
        elif (verdict := final_verdict(judgment)) is not None:
            summary.verdicts[verdict] += 1
        summary.usage.update(judgment.get("usage", {}))
    bar.update(len(records))
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
