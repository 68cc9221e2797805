"""One judge and one set of options: items into judgment records.

``Judging`` renders each item's prompts (both orders with swap), hands them to the judge,
and reads, combines and records the replies. No reply can stop a run: whatever goes wrong
reading one is that judgment's ``error``. The runner (``runner.judge_file``) streams items
through it a window at a time.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..backends.base import Completion, Judge, Request
from ..errors import BudgetExhausted, JudgecliError
from ..io.records import PAIR, SINGLE, Item
from ..parsers import ParseFailure, one_line, parse
from ..parsers import specs as parser_specs
from ..templates import Template
from . import resample
from .choices import MODES
from .confidence import alpacaeval_preference, line_prob, read_from_top, verdict_probs
from .debias import COMBINE_RULES, OrderResult, combine, map_back
from .fit import Fit
from .indicators import indicators


@dataclass(frozen=True)
class JudgeOptions:
    template: Template
    mode: str = "auto"
    swap: bool | None = None  # None: on for pairwise templates
    combine: str = "strict"
    max_new_tokens: int = 512
    resample: int = 0  # --resample: re-ask up to N times a reply that does not parse

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


@dataclass
class Started:
    """A window handed to the judge: its items, requests, each item's span of them, and
    what the judge's ``start`` gave back."""

    items: list[Item]
    requests: list[Request]
    spans: list[tuple[int, int]]
    ticket: Any


class Judging:
    """Turns items into judgment records with one judge and one set of options."""

    def __init__(self, judge: Judge, options: JudgeOptions) -> None:
        if options.combine not in COMBINE_RULES:
            raise JudgecliError(f"--combine must be one of {', '.join(COMBINE_RULES)}")
        self.judge = judge
        self.options = options
        self.mode = resolve_mode(options, judge)
        self.fit = Fit(judge)  # --truncate: answers cut so that the prompts fit the window
        self.said_no_probs = False  # the warning of a preference without probabilities
        resample.check(self)

    def check_item(self, item: Item) -> None:
        self.options.template.check_item(item)

    def requests(self, item: Item,
                 extra: dict[str, dict[str, str]] | None = None) -> list[Request]:
        """One request per order; ``extra``: order -> more placeholder values (a review)."""
        template = self.options.template
        score = self.mode == "score"
        count = template.expected_count(item) or 1
        orders = self.options.orders(item)
        return self.fit.requests(template, item, orders, extra, [
            Request(prompt=template.render(item, order, (extra or {}).get(order)),
                    score_line=template.score_line if score else None,
                    count=count if score else 0,
                    max_new_tokens=self.options.max_new_tokens, parser=template.parser,
                    values=template.score_line.values if template.score_line else ())
            for order in orders])

    def judge_items(self, items: list[Item],
                    extras: list[dict[str, dict[str, str]]] | None = None,
                    ) -> list[dict[str, Any]]:
        """Judge a window of items; one output record per item, in the same order.
        ``extras``: per item, the extra placeholder values of each order (a review)."""
        return self.finish_items(self.start_items(items, extras))

    def start_items(self, items: list[Item],
                    extras: list[dict[str, dict[str, str]]] | None = None) -> Started:
        """Hand a window's requests to the judge; a judge that ``overlaps`` starts them now,
        behind those of the windows started before (see ``judge_file``)."""
        requests: list[Request] = []
        spans = []
        for number, item in enumerate(items):
            mine = self.requests(item, extras[number] if extras else None)
            spans.append((len(requests), len(mine)))
            requests.extend(mine)
        return Started(items, requests, spans, self.judge.start(requests) if requests else None)

    def finish_items(self, started: Started,
                     emit: Callable[[list[dict[str, Any]]], None] | None = None,
                     ) -> list[dict[str, Any]]:
        """The records of a window handed to the judge by ``start_items``. ``emit``: where
        a judge that reports its results as they come (``Judge.wait``) hands each run of
        items, in input order, as soon as all their requests are answered; the records
        returned are the rest."""
        items, requests, spans = started.items, started.requests, started.spans
        emitted = 0  # items handed to ``emit``
        followed = False  # the judge reported results as they came (``Judge.wait``)
        try:
            seen = -1
            while emit is not None and requests and emitted < len(items):
                got = self.judge.wait(started.ticket, seen)
                if got is None:
                    break  # this judge tells only at ``finish``
                followed = True
                ready = self._answered(items, spans, got, emitted)
                if ready:
                    emitted += len(ready)
                    emit(ready)
                count = sum(c is not None for c in got)
                if count == seen:
                    break  # the window ended with no more answers: ``finish`` says why
                seen = count
            completions = self.judge.finish(started.ticket) if requests else []
        except BaseException as stop:
            got = getattr(stop, "completions", None)
            if got is None and followed and not isinstance(stop, BudgetExhausted):
                got = self.judge.cancel(started.ticket)  # stopped while following it
            got = got or []
            if isinstance(stop, BudgetExhausted):
                # Items whose every request was answered are kept; the others are not
                # written at all (not even as errors), so that --resume judges them.
                stop.records = [self.record(item, got[start:start + n])  # type: ignore[arg-type]
                                for item, (start, n) in zip(items[emitted:], spans[emitted:])
                                if len(got) >= start + n
                                and all(c is not None for c in got[start:start + n])]
            elif isinstance(stop, KeyboardInterrupt):
                # Ctrl-C: the items before the first unfinished one are kept (a backend
                # carries the completions it has, None for the others); the runner writes
                # them.
                stop.records = self._answered(items, spans, got, emitted)  # type: ignore[attr-defined]
                stop.judging = self  # type: ignore[attr-defined]
            raise
        if len(completions) != len(requests):
            raise JudgecliError(f"judge '{self.judge.name}' returned {len(completions)} "
                                f"results for {len(requests)} requests")
        return [self.record(item, completions[start:start + n])
                for item, (start, n) in zip(items[emitted:], spans[emitted:])]

    def _answered(self, items: list[Item], spans: list[tuple[int, int]],
                  got: list[Completion | None], skip: int) -> list[dict[str, Any]]:
        """The records of ``items[skip:]`` up to the first with a request not answered."""
        kept = []
        for item, (start, n) in zip(items[skip:], spans[skip:]):
            mine = got[start:start + n]
            if len(mine) < n or any(c is None for c in mine):
                break
            kept.append(self.record(item, mine))  # type: ignore[arg-type]
        return kept

    def record(self, item: Item, completions: list[Completion]) -> dict[str, Any]:
        template = self.options.template
        orders = self.options.orders(item)
        attempts, spent = None, completions
        if self.options.resample:
            completions, attempts, spent = resample.resample(self, item, completions)
        results = [self.order_result(item, order, c) for order, c in zip(orders, completions)]
        judgment: dict[str, Any] = {"judge": self.judge.name, "template": template.name,
                                    "mode": self.mode}
        if len(orders) == 2:
            judgment["combine"] = self.options.combine  # how the two orders were combined
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
        for entry, tried in zip(judgment["orders"], attempts or ()):
            entry["attempts"] = tried  # --resample: every reply asked for, the last read
        if item.kind != PAIR:  # one answer has no order (it said "AB": issue 26 item 13)
            for entry in judgment["orders"]:
                entry.pop("order", None)
        self.fit.note(item, judgment)
        usage = Counter[str]()
        for c in spent:
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
            if template.preference == "alpacaeval":
                # AlpacaEval's preference (1 + P(B better)), what report's win rates read;
                # null where an order has no probabilities (a failed or unparsed reply).
                judgment["preference"] = alpacaeval_preference(
                    [r.probs if r.error is None else None for r in results])
                if judgment["preference"] is None and not self.said_no_probs and \
                        any(r.error is None and r.probs is None for r in results):
                    self._no_probs()
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

    def _no_probs(self) -> None:
        """Said at the first reply read without probabilities, not at the run's end: every
        AlpacaEval figure of the run would be null, with no word why."""
        self.said_no_probs = True
        print(f"judgecli: warning: judge {self.judge.name} gave no token probabilities "
              f"(logprobs) with its reply; template {self.options.template.name} reads "
              "AlpacaEval's preference from them, so judgment.preference is null and so "
              "will be report's AlpacaEval figures; judge through a server that returns "
              "top_logprobs", file=sys.stderr, flush=True)

    def order_result(self, item: Item, order: str, completion: Completion) -> OrderResult:
        if completion.error is not None or completion.text is None:
            return OrderResult(order=order, text=completion.text,
                               error=completion.error or "the judge returned no text")
        template = self.options.template
        try:
            # AlpacaEval's reading: the verdict its top logprobs give, whatever was written.
            parsed = read_from_top(completion.slot_probs, template.parser) or \
                parse(template.parser, completion.text, template.expected_count(item))
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
        parser = self.options.template.parser
        if completion.slot_probs and len(completion.slot_probs) == 1 and (
                parser == "final-rating" or parser_specs.is_data(parser)):
            # One rating, read where it was written (an API judge's logprobs, or a closed
            # set of values a data parser declares): the probability of the value read.
            found = parser_specs.decode(parser).find(completion.text or "") \
                if parser_specs.is_data(parser) else None
            written = found[1] if found is not None else f"{scores[0]:g}"
            return completion.slot_probs[0].get(written)
        if not completion.slot_probs or line is None or completion.text is None:
            return None
        # The line as written: prefix, the values joined by sep, end ("[[7]]", "8 9\n").
        text = completion.text.lstrip()
        if line.prefix and text.startswith(line.prefix):
            text = text[len(line.prefix):]
        body = (text.split(line.end, 1)[0] if line.end else text).split("\n")[0].strip()
        values = body.split(line.sep) if line.sep else [body]
        return line_prob(completion.slot_probs, values)
