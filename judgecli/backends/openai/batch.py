"""The OpenAI judge through OpenAI's Batch API (``--batch``): the same requests at half the
price, answered within 24 hours instead of at once.

Each ``complete`` call (a window of the run: up to ``4 * preferred_batch()`` items) answers
what the cache holds, writes the other requests as Batch API lines (``custom_id``: the
request's cache key, so an identical request is sent once), splits them into files under
the Batch API's limits, uploads them (``/v1/files``), creates one batch per file
(``/v1/batches``), polls until every batch has ended, and reads the output and error files
by ``custom_id`` (their lines come in any order). Replies become Completions exactly as the
synchronous judge makes them (``OpenAIJudge._completion``), so the runner's swap, parsing
and combining are unchanged; a request that a batch did not answer is that item's error,
naming why (expired, failed, cancelled, the error file's message).

A batch is paid for when it is created, so its ids are written to a state file before it
is polled: ``OUTPUT.batch-KEY.json`` beside the output (``KEY``: a hash of the window's
requests), or under ``CACHE_DIR/batches`` for stdout. A run that is killed or interrupted
and started again with the same requests polls the batches it finds there instead of
creating new ones; the file is removed once the results are read (and cached). A different
set of requests (``--retry-errors`` sends only the failed items) is a different key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import openai

from ...errors import BudgetExhausted, JudgecliError
from ..base import Completion, Request
from .batch_files import BatchState, batch_line, custom_id, split
from .cache import default_dir
from .judge import OpenAIJudge
from .pricing import (
    BATCH_FACTOR,
    BATCH_NOTE,
    CostMeter,
    estimate_tokens,
    payload_size,
    resolve_price,
)
from .token_probs import read_reply

# OpenAI's limits on one batch input file: 50,000 requests and 200 MB
# (platform.openai.com/docs/guides/batch). Module values, so tests can make them tiny.
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1000 * 1000
POLL_SECONDS = 30.0  # JUDGECLI_BATCH_POLL overrides it (seconds)
ENDED = ("completed", "expired", "failed", "cancelled")
_WHY = {"expired": "the batch expired (24h window) before this request ran",
        "cancelled": "the batch was cancelled before this request ran",
        "completed": "the batch ended without a line for this request"}
_T = TypeVar("_T")


class OpenAIBatchJudge(OpenAIJudge):
    def __init__(self, model: str, *, state_beside: str | None = None,
                 poll_seconds: float | None = None, quiet: bool = False,
                 **options: Any) -> None:
        """``state_beside``: the output file the state files go beside (None: stdout, so
        under the cache folder). ``quiet``: no progress lines on stderr. The other options
        are ``OpenAIJudge``'s."""
        super().__init__(model, **options)
        self.quiet = quiet
        price = resolve_price(model, options.get("price_in"), options.get("price_out"))
        self.meter = CostMeter(price.scaled(BATCH_FACTOR) if price is not None else None,
                               options.get("max_cost"), note=BATCH_NOTE)
        self.poll_seconds = poll_seconds if poll_seconds is not None else \
            float(os.environ.get("JUDGECLI_BATCH_POLL") or POLL_SECONDS)
        self._beside = state_beside if state_beside not in (None, "-") else None
        self._state_dir = default_dir(options.get("cache_dir")) / "batches"
        base_url = options.get("base_url") or os.environ.get("OPENAI_BASE_URL") or None
        # The files and batches endpoints are few calls, made one at a time: a plain client,
        # whose own retries (429, 5xx, dropped connections) are enough for them.
        self._client = openai.OpenAI(api_key=self._key or "EMPTY", base_url=base_url,
                                     max_retries=self.retries, timeout=max(self.timeout, 600))
        self.batches = 0

    # One window at a time, by ``complete``: the synchronous judge's ``start``/``finish``
    # run its requests on its event loop, which a batch does not use.
    @property
    def overlaps(self) -> bool:
        return False

    def wait(self, ticket: Any, seen: int) -> list[Completion | None] | None:
        return None  # a batch's results come together, at ``finish``

    def start(self, requests: Sequence[Request]) -> Any:
        return list(requests)

    def finish(self, ticket: Any) -> list[Completion]:
        return self.complete(ticket)

    def preferred_batch(self) -> int:
        # A batch costs a wait of minutes to hours whatever its size: a window of 50,000
        # items (two requests each with swap: two files) makes most runs one wait.
        return 12_500

    def usage_report(self) -> str | None:
        if not (self.meter.requests or self.meter.cached or self.failed or self.refused):
            return None
        line = self.meter.report() + f"; {self.batches} batch(es)"
        if self.failed:
            line += f"; {self.failed} request(s) unanswered by their batch (see judgment.error)"
        return line + self.refused_note()

    def close(self) -> None:
        self._client.close()
        super().close()

    # -- one window ---------------------------------------------------------------------------
    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        refused = [self.refusal(r) for r in requests]  # too long for the context window
        bodies = [self._body(r) for r in requests]
        keys = [self.key(r, b) for r, b in zip(requests, bodies, strict=True)]
        body_of = {k: b for k, b, no in zip(keys, bodies, refused, strict=True)
                   if no is None}  # each distinct request once
        hits = {k: hit for k in body_of
                if self.cache is not None and (hit := self.cache.get(k)) is not None}
        results: list[Completion | None] = [
            no if no is not None else
            self._completion(r, hits[k], attempts=0, cached=True) if k in hits else None
            for r, k, no in zip(requests, keys, refused, strict=True)]
        todo = [k for k in body_of if k not in hits]
        self.meter.cached += sum(k in hits for k in keys)
        if not todo:
            return [r for r in results if r is not None]
        digest = hashlib.sha256("\n".join(sorted(body_of)).encode()).hexdigest()[:16]
        state = BatchState(self._state_path(digest), digest)
        try:
            replies, reasons = self._batch(state, todo, body_of, results)
        except KeyboardInterrupt as stop:
            if any("batch_id" in part for part in state.parts):
                self._say(f"interrupted; the batch(es) go on, their ids kept in {state.path}: "
                          "run the same command again to collect them without paying again",
                          always=True)
            stop.completions = results  # type: ignore[attr-defined]  # the cached ones
            raise
        seen: set[str] = set()
        for i, (request, key) in enumerate(zip(requests, keys, strict=True)):
            if results[i] is not None:
                continue
            reply = replies.get(key)
            if reply is None:
                self.failed += 1
                results[i] = Completion(text=None, error=reasons.get(key, _WHY["completed"]),
                                        extra={"attempts": 1})
                continue
            if key in seen:
                self.meter.cached += 1  # an identical request: the same line answers it
            seen.add(key)
            results[i] = self._completion(request, reply, attempts=1, cached=False)
        state.remove()  # the replies are cached (and about to be written)
        return [r for r in results if r is not None]

    def _state_path(self, digest: str) -> Path:
        if self._beside is not None:
            return Path(f"{self._beside}.batch-{digest}.json")
        return self._state_dir / f"{digest}.json"

    def _batch(self, state: BatchState, todo: list[str], body_of: dict[str, dict[str, Any]],
               results: list[Completion | None],
               ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Submit ``todo`` (or find it submitted), wait, read: (key -> reply, key -> why
        not answered)."""
        reasons: dict[str, str] = {}
        if not state.load():
            lines = {k: batch_line(k, self._url(), body_of[k]) for k in todo}
            for key, line in lines.items():
                if len(line) > MAX_BYTES:
                    reasons[key] = f"too large for a Batch API file ({len(line):,} bytes; " \
                                   f"the limit is {MAX_BYTES:,})"
            sent = [k for k in todo if k not in reasons]
            self._check_budget(sent, body_of, results)
            for keys in split(sent, [len(lines[k]) for k in sent], MAX_REQUESTS, MAX_BYTES):
                data = b"".join(lines[k] for k in keys)
                name = f"judgecli-{state.digest}-{len(state.parts)}.jsonl"
                upload = self._api("upload a batch file", functools.partial(
                    self._client.files.create, file=(name, data, "application/jsonl"),
                    purpose="batch"), state)
                state.parts.append({"input_file_id": upload.id, "requests": len(keys)})
                state.keys.append(keys)
            if not state.parts:
                return {}, reasons
            state.save()  # uploads cost nothing; a batch is paid for once created
        for part in state.parts:
            if "batch_id" not in part and state.keys:  # uploaded now: no batch of it yet
                self._create(part, state)
            elif "batch_id" not in part:
                self._adopt(part, state)
        self._say(f"{sum(p['requests'] for p in state.parts):,} request(s) in "
                  f"{len(state.parts)} batch(es) ({', '.join(p['batch_id'] for p in state.parts)}"
                  f"); their ids are kept in {state.path}; waiting for them (Ctrl-C leaves "
                  "them running: the same command collects them later)")
        self._wait(state)
        replies: dict[str, dict[str, Any]] = {}
        self.batches += len(state.parts)
        for number, part in enumerate(state.parts):
            self._read(part, self._part_keys(state, number), replies, reasons, state)
        for key in todo:
            if key not in replies and key not in reasons:
                reasons[key] = f"not in the batch(es) of {state.path}, which were submitted " \
                               "when the cache held it; judge it again with --resume " \
                               "--retry-errors"
        for key in todo:  # (a batch found in the state file may hold others, now cached)
            reply = replies.get(key)
            if reply is None:
                continue
            reply["text"] = self._scrub(reply["text"])  # as a synchronous reply is
            if self.cache is not None:
                self.cache.put(key, reply)
            body = body_of[key]
            payload = body.get("messages") or body.get("prompt")
            # A server that reports no usage is counted at the estimate, as synchronously.
            usage = reply["usage"]
            self.meter.settle(usage.get("prompt_tokens", estimate_tokens(
                json.dumps(payload, ensure_ascii=False), len(body.get("messages") or ()))),
                usage.get("completion_tokens", estimate_tokens(reply["text"])))
        return replies, reasons

    def _adopt(self, part: dict[str, Any], state: BatchState) -> None:
        """A part of a state file without a batch id: the run that uploaded it stopped
        before it created the batch, or before it wrote down the batch it created. Look for
        that batch among the latest ones (by its input file) before paying for another."""
        found = self._api("list the batches", functools.partial(
            self._client.batches.list, limit=100), state)
        made = next((b for b in found.data if b.input_file_id == part["input_file_id"]),
                    None)
        if made is None:
            return self._create(part, state)
        part.update(batch_id=made.id, status=made.status)
        state.save()

    def _create(self, part: dict[str, Any], state: BatchState) -> None:
        """Create the batch of an uploaded file, and write its id down at once."""
        made = self._api("create a batch", functools.partial(
            self._client.batches.create, input_file_id=part["input_file_id"],
            endpoint=self._url(), completion_window="24h",
            metadata={"judgecli": state.digest}), state)
        part.update(batch_id=made.id, status=made.status)
        state.save()

    def _part_keys(self, state: BatchState, number: int) -> list[str]:
        """The custom_ids of a part: known when this run uploaded it, else read back from
        its input file (a run that found the batch in the state file)."""
        if number < len(state.keys):
            return state.keys[number]
        data = self._api("download a batch's input", functools.partial(
            self._client.files.content, state.parts[number]["input_file_id"]), state).content
        return [read[0] for line in data.split(b"\n") if (read := custom_id(line))]

    def _check_budget(self, sent: list[str], body_of: dict[str, dict[str, Any]],
                      results: list[Completion | None]) -> None:
        """--max-cost: a batch cannot be stopped halfway, so its worst case (as the meter
        bounds a synchronous request) must fit before it is submitted."""
        if self.meter.max_cost is None:
            return
        worst = 0.0
        for key in sent:
            body = body_of[key]
            size, messages = payload_size(body.get("messages") or body.get("prompt"))
            worst += self.meter.bound(size, messages, body.get("max_tokens")
                                      or body.get("max_completion_tokens") or 0)
        if self.meter.spent + worst > self.meter.max_cost:
            raise BudgetExhausted(
                f"not submitted: a batch of {len(sent):,} request(s) could cost up to "
                f"${worst:.4f} ({BATCH_NOTE}; a token per prompt byte, --max-new-tokens "
                f"each), more than --max-cost ${self.meter.max_cost:g} allows (spent "
                f"${self.meter.spent:.4f}); every judgment so far is written, finish with "
                "--resume", results)

    def _wait(self, state: BatchState) -> None:
        said: dict[str, str] = {}
        while True:
            for number, part in enumerate(state.parts):
                if part.get("status") in ENDED:
                    continue
                batch = self._api("poll a batch", functools.partial(
                    self._client.batches.retrieve, part["batch_id"]), state)
                if batch.status != part.get("status"):
                    part["status"] = batch.status
                    if batch.status in ENDED:
                        part.update(output_file_id=batch.output_file_id,
                                    error_file_id=batch.error_file_id,
                                    errors=[e.message for e in (batch.errors.data or [])
                                            if e.message] if batch.errors else [])
                    state.save()
                counts = batch.request_counts
                news = f"batch {part['batch_id']} ({number + 1} of {len(state.parts)}): " \
                       f"{batch.status}" + (f", {counts.completed:,} of {counts.total:,} done, "
                                           f"{counts.failed:,} failed" if counts else "")
                if said.get(part["batch_id"]) != news:
                    self._say(news)
                    said[part["batch_id"]] = news
            if all(p.get("status") in ENDED for p in state.parts):
                return
            time.sleep(self.poll_seconds)

    def _read(self, part: dict[str, Any], keys: list[str], replies: dict[str, dict[str, Any]],
              reasons: dict[str, str], state: BatchState) -> None:
        """The output and error files' lines, by custom_id (in any order); a request of the
        part that no line answers gets the batch's reason."""
        for name in ("output_file_id", "error_file_id"):
            if not part.get(name):
                continue
            data = self._api("download a batch's results", functools.partial(
                self._client.files.content, part[name]), state).content
            for line in data.split(b"\n"):
                read = custom_id(line)
                if read is None:
                    continue  # a blank or torn line: its request counts as unanswered
                key, row = read
                reply, reason = self._result(row)
                if reply is not None:
                    replies[key] = reply
                    reasons.pop(key, None)
                elif key not in replies:
                    reasons[key] = reason
        status = part.get("status", "completed")
        why = _WHY.get(status) or f"the batch {status}: " + \
            ("; ".join(part.get("errors") or []) or "no reason given")
        for key in keys:
            if key not in replies:
                reasons.setdefault(key, f"{why} ({part.get('batch_id')})"[:400])

    def _result(self, row: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """One line of an output or error file: (reply, "") or (None, why not)."""
        response, error = row.get("response") or {}, row.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            return None, self._scrub(f"{code + ': ' if code else ''}{message}")[:300]
        body = response.get("body") if isinstance(response, dict) else None
        status = response.get("status_code") if isinstance(response, dict) else None
        if status != 200:
            message = body.get("error", {}).get("message") if isinstance(body, dict) else body
            return None, self._scrub(f"HTTP {status}: {message}")[:300]
        try:
            return read_reply(body, chat=self.api == "chat"), ""  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            return None, f"malformed reply ({type(exc).__name__})"

    # -- calls ---------------------------------------------------------------------------------
    def _url(self) -> str:
        return "/v1/completions" if self.api == "completions" else "/v1/chat/completions"

    def _api(self, what: str, call: Callable[[], _T], state: BatchState) -> _T:
        """A files or batches call; its failure is the run's (one line), the state kept."""
        kept = f"; the batch ids are kept in {state.path} (the same command goes on with " \
               "them; delete it to submit them again)" \
            if any("batch_id" in p for p in state.parts) else ""
        try:
            return call()
        except openai.APIStatusError as exc:
            body = exc.body
            message = body.get("message") if isinstance(body, dict) else None
            raise JudgecliError(f"the Batch API refused to {what} (HTTP {exc.status_code}): "
                                f"{self._scrub(str(message or exc.message))[:300]}{kept}"
                                ) from None
        except openai.APIConnectionError as exc:
            root: BaseException = exc
            for _ in range(8):  # the transport's own error names what happened
                root = root.__cause__ or root.__context__ or root
            raise JudgecliError(f"could not reach the Batch API to {what} "
                                f"({type(root).__name__}){kept}") from None

    def _say(self, message: str, *, always: bool = False) -> None:
        if always or not self.quiet:
            print(f"judgecli: {message}", file=sys.stderr, flush=True)
