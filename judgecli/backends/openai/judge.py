"""A judge behind the OpenAI API, or any server that speaks it (vLLM, TGI, llama.cpp, Ollama,
``transformers serve``): ``--judge openai:MODEL [--base-url URL]``.

Chat templates go as their chat messages; completion-style templates as one user message,
or with ``api="completions"`` as the raw prompt to ``/v1/completions`` (for a server that
hosts a fine-tuned judge such as JudgeLM). The judge writes its whole judgment (explain
mode) at temperature 0, and where the server gives ``top_logprobs`` the score or verdict
tokens' probabilities become ``slot_probs`` (see ``token_probs``).

``complete`` is synchronous for the runner; inside, requests run concurrently on a private
event loop with ``openai.AsyncOpenAI``. The client's own retries are off: the policy here
retries 429, 408/409, 5xx, timeouts, dropped connections and malformed bodies with
exponential backoff and full jitter, and after the last attempt the request's error says why.
A failure delays only its own request (at least what ``Retry-After`` asks); the others are
held back only where the server's rate-limit headers say the account is used up (until it
resets), and a 429 that gives no guidance at all halves the requests in flight, grown back as
replies succeed (``ratelimit.Window``). Replies are cached on disk (``cache``) and metered
(``pricing``).

The API key is read from ``OPENAI_API_KEY`` only to give it to the client: it is not part
of any cache key, record or log, and it is scrubbed from every error message.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import threading
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import openai

from ...errors import BudgetExhausted, JudgecliError, JudgeLoadError
from ...parsers import ParseFailure, one_line
from ..base import Completion, Judge, Request, Room
from .cache import Cache, cache_key
from .http import Attempts, _Failure, _http_client, _Reading, _root_cause
from .pricing import CostMeter, context_window, prompt_tokens, resolve_price
from .ratelimit import Pace, ServerLimits, Window
from .token_probs import slot_probs

__all__ = ["APIS", "OpenAIJudge", "_http_client", "_root_cause"]

APIS = ("chat", "completions")
TOP_LOGPROBS = 5  # as AlpacaEval's weighted annotators ask
POOL_SIZE = 16
OPENAI_URL = "https://api.openai.com/v1"
# Reasoning models take max_completion_tokens and refuse temperature and logprobs.
_REASONING = re.compile(r"^(o\d|gpt-5)")
_T = TypeVar("_T")


class _Ticket:
    """A batch begun on the judge's loop: its requests, the completions as they come."""

    def __init__(self, requests: list[Request], number: int) -> None:
        self.requests, self.number = requests, number
        self.results: list[Completion | None] = [None] * len(requests)
        self.future: Any = None
        self.count = 0  # results in
        self.changed = threading.Condition()  # a result came in, or the batch ended

    def came(self, index: int, completion: Completion) -> None:
        """Called on the judge's loop as each reply is read."""
        with self.changed:
            self.results[index] = completion
            self.count += 1
            self.changed.notify_all()

    def ended(self, _: Any = None) -> None:
        with self.changed:
            self.changed.notify_all()


class OpenAIJudge(Attempts, Judge):
    supports_score_mode = False  # no next-token distributions to restrict: explain mode

    def __init__(self, model: str, *, base_url: str | None = None, api: str = "chat",
                 concurrency: int = 16, rpm: float | None = None, tpm: float | None = None,
                 temperature: float = 0.0, timeout: float = 60.0, retries: int = 8,
                 backoff_base: float = 0.5, backoff_cap: float = 60.0,
                 max_retry_after: float = 300.0, logprobs: bool = True, cache: bool = True,
                 cache_dir: str | None = None, max_cost: float | None = None,
                 price_in: float | None = None, price_out: float | None = None,
                 api_key: str | None = None, transport: str = "auto", **_: Any) -> None:
        if api not in APIS:
            raise JudgeLoadError(f"--api must be one of {', '.join(APIS)}, not '{api}'")
        if concurrency < 1 or retries < 0:
            raise JudgeLoadError("--concurrency must be at least 1 and --retries at least 0")
        self.name = f"openai:{model}"
        self.model, self.api = model, api
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        if not key and base_url is None:
            raise JudgeLoadError("set OPENAI_API_KEY to judge with the OpenAI API, or give "
                                 "--base-url for a server that needs no key")
        self._key = key
        # What the cache key names: the endpoint without credentials or query parameters.
        parts = urlsplit((base_url or OPENAI_URL).rstrip("/"))
        host = (parts.hostname or "") if parts.port is None else \
            f"{parts.hostname}:{parts.port}"
        self._endpoint = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        self._reasoning = bool(_REASONING.match(model))
        self.temperature, self.timeout, self.retries = temperature, timeout, retries
        self.concurrency = concurrency
        self._backoff = (backoff_base, backoff_cap)
        self._max_retry_after = max_retry_after
        self._logprobs = logprobs and not self._reasoning
        self._rpm = Pace(rpm) if rpm else None
        self._tpm = Pace(tpm) if tpm else None
        self.meter = CostMeter(resolve_price(model, price_in, price_out), max_cost)
        self.retried = self.failed = 0
        self.context_window = context_window(model)
        self.refused = 0  # prompts too long for the context window, not sent
        self._rng = random.Random()
        self._window = Window(concurrency)  # requests in flight, adaptive
        self._limits = ServerLimits()  # what the rate-limit headers say
        self._sent = 0  # requests sent so far (their order, for the headers' counts)
        self._tickets = 0  # batches begun
        self._open: set[_Ticket] = set()
        self._reading: set[_Reading] = set()
        self._stopped: set[asyncio.Task[Any]] = set()
        # Servers that need no key still want the header; "EMPTY" is vLLM's documented value.
        # One client per POOL_SIZE connections: httpx's pool scans all its connections on
        # every request, so one pool of 64 costs more CPU than four of 16.
        self._clients = [openai.AsyncOpenAI(api_key=key or "EMPTY", base_url=base_url,
                                            max_retries=0, timeout=timeout,
                                            http_client=_http_client(transport, watch=True))
                         for _ in range(-(-concurrency // POOL_SIZE))]
        self._busy = [0] * len(self._clients)
        self.cache = Cache(cache_dir) if cache else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._freed: asyncio.Condition | None = None  # --max-cost: a booking was settled
        self._money_queue: list[tuple[int, int]] = []  # requests waiting to book, in order
        self._thread: threading.Thread | None = None

    # -- the Judge interface -----------------------------------------------------------------
    def preferred_batch(self) -> int:
        # The runner asks for 4 batches a window: keep every connection busy across a window.
        return max(16, 4 * self.concurrency)

    @property
    def overlaps(self) -> bool:  # type: ignore[override]
        # Under --max-cost, one window at a time: a stop then keeps a prefix of the input.
        return self.meter.max_cost is None

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.finish(self.start(requests))

    def start(self, requests: Sequence[Request]) -> _Ticket:
        """Begin a batch on the judge's loop; its requests go after those of the batches
        begun before (``ratelimit.Window`` serves them by batch, then input order)."""
        self._tickets += 1
        ticket = _Ticket(list(requests), self._tickets)
        ticket.future = asyncio.run_coroutine_threadsafe(self._complete(ticket), self._loop_())
        ticket.future.add_done_callback(ticket.ended)
        self._open.add(ticket)
        return ticket

    def wait(self, ticket: _Ticket, seen: int) -> list[Completion | None] | None:
        # Woken by each reply; the short timeout lets Ctrl-C (and the closed-stdout watch,
        # which interrupts the way Ctrl-C does) through a wait with no reply coming.
        with ticket.changed:
            while ticket.count <= seen and not ticket.future.done():
                ticket.changed.wait(0.1)
            return list(ticket.results)

    def cancel(self, ticket: _Ticket) -> list[Completion | None]:
        self._stop_all()
        self._open.discard(ticket)
        return list(ticket.results)

    def _stop_all(self) -> None:
        """Stop every batch begun (an interrupted one and those after it)."""
        for other in list(self._open):
            other.future.cancel()
        # So that none is destroyed pending with the loop; replies coming in are read whole.
        self._run(_cancel_tasks(self._spare))

    def finish(self, ticket: _Ticket) -> list[Completion]:
        try:
            return ticket.future.result()
        except BaseException as stop:
            # Ctrl-C (or a failure): stop every batch begun, this one and those after it.
            self._stop_all()
            if isinstance(stop, KeyboardInterrupt):
                stop.completions = ticket.results  # type: ignore[attr-defined]
            raise
        finally:
            self._open.discard(ticket)

    def usage_report(self) -> str | None:
        if not (self.meter.requests or self.meter.cached or self.failed or self.refused):
            return None
        line = self.meter.report()
        if self.retried or self.failed:
            line += f"; {self.retried} retried attempt(s), {self.failed} request(s) gave up"
        return line + self.refused_note()

    def refused_note(self) -> str:
        return f"; {self.refused} prompt(s) too long for the context window, not sent" \
            if self.refused else ""

    def room(self, request: Request) -> Room | None:
        if self.context_window is None:
            return None
        return Room(prompt_tokens(request.prompt), request.max_new_tokens, self.context_window,
                    estimated=True, source="OpenAI's model page")

    def refusal(self, request: Request, room: Room | None = None) -> Completion | None:
        refused = super().refusal(request, room)
        if refused is not None:
            self.refused += 1
        return refused

    def close(self) -> None:
        if self._loop is not None:
            self._run(_cancel_tasks())  # so that none is destroyed pending with the loop
            for client in self._clients:
                self._run(client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop.close()
            self._loop = None
        if self.cache is not None:
            self.cache.close()

    def _loop_(self) -> asyncio.AbstractEventLoop:
        """The judge's own loop (a thread), so that ``complete`` works the same from
        scripts, the CLI and code that already runs an event loop (notebooks)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="judgecli-openai")
            self._thread.start()
        return self._loop

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the judge's loop and wait for it."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop_())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    # -- one batch ---------------------------------------------------------------------------
    async def _complete(self, ticket: _Ticket) -> list[Completion]:
        """Workers take the requests in input order, so those in flight are always the
        earliest unanswered ones (the ones a --max-cost stop keeps). ``ticket.results``: one
        entry per request, filled in as the replies come."""
        requests, results = ticket.requests, ticket.results
        todo = iter(range(len(requests)))  # shared: each index is taken once
        stop: list[BudgetExhausted] = []

        async def worker() -> None:
            for i in todo:
                try:
                    ticket.came(i, await self._one(requests[i], (ticket.number, i)))
                except BudgetExhausted as exc:
                    stop.append(exc)
                if self._stop_deferred():
                    raise asyncio.CancelledError  # stopped while its reply came: now kept
                if stop:
                    return

        workers = [asyncio.ensure_future(worker())
                   for _ in range(min(self._workers(), len(requests)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        if stop:
            # Worded now that every request in flight has settled, so its "spent" is the
            # cost line's figure (it said $0.0000 while that said $0.0042).
            raise BudgetExhausted(self.meter.stop_message(), results)
        return [r for r in results if r is not None]

    def _workers(self) -> int:
        """Twice as many workers as requests may be in flight (the window), so that a
        request waiting to retry leaves its slot to the next one instead of holding it;
        under --max-cost as many, so that a later request never books money before an
        earlier one that waits for some (the stop then keeps a prefix of the input)."""
        return self.concurrency * (1 if self.meter.max_cost is not None else 2)

    async def _one(self, request: Request, place: tuple[int, int] = (0, 0)) -> Completion:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        while True:
            body = self._body(request)
            key = self.key(request, body) if self.cache is not None else None
            hit = self.cache.get(key) if key is not None and self.cache is not None else None
            if hit is not None:
                self.meter.cached += 1
                return self._completion(request, hit, attempts=0, cached=True)
            try:
                reply, attempts = await self._attempts(body, place)
            except _Failure as failure:
                if failure.status == 400 and "logprobs" in body and \
                        "logprob" in failure.reason.lower():
                    self._logprobs = False  # ask again without them, from the cache first
                    continue
                self.failed += 1
                return Completion(text=None, error=failure.reason,
                                  extra={"attempts": failure.attempts})
            if self.cache is not None and key is not None:
                self.cache.put(key, reply)
            return self._completion(request, reply, attempts=attempts, cached=False)

    @property
    def samples(self) -> bool:  # type: ignore[override]
        """Asking again gives another reply: sampling (reasoning models always sample)."""
        return self._reasoning or self.temperature > 0

    def key(self, request: Request, body: dict[str, Any]) -> str:
        """The request's cache key; a re-sampled one (--resample) has its own per attempt,
        so that its reply is a new one, found again by --resume."""
        extra = {"sample": request.sample} if request.sample else {}
        return cache_key(endpoint=self._endpoint, api=self.api, **body, **extra)

    def _body(self, request: Request) -> dict[str, Any]:
        """The request as sent, apart from the model's credentials: also the cache key."""
        prompt = request.prompt
        body: dict[str, Any] = {"model": self.model}
        if self.api == "completions":
            if prompt.text is None:
                raise JudgecliError("this template sends chat messages, which /v1/completions "
                                    "cannot take; use --api chat")
            body["prompt"] = prompt.text
        else:
            body["messages"] = [{"role": "user", "content": prompt.text}] \
                if prompt.text is not None else [dict(m) for m in prompt.messages or ()]
        if self._reasoning:
            body["max_completion_tokens"] = request.max_new_tokens
            return body
        body["max_tokens"] = request.max_new_tokens
        body["temperature"] = self.temperature
        if self._logprobs:
            if self.api == "completions":
                body["logprobs"] = TOP_LOGPROBS
            else:
                body["logprobs"], body["top_logprobs"] = True, TOP_LOGPROBS
        return body

    # -- replies -----------------------------------------------------------------------------
    def _completion(self, request: Request, reply: dict[str, Any], *, attempts: int,
                    cached: bool) -> Completion:
        text = reply["text"]
        extra = {"attempts": attempts, "cached": cached}
        if reply.get("finish_reason") == "length":
            extra["truncated"] = True
        try:
            probs = slot_probs(reply["tokens"], text, request.parser, request.values) \
                if reply.get("tokens") else None
        except ParseFailure as exc:  # AlpacaEval's reading found no m or M: no preference
            return Completion(text=text.strip(), usage=dict(reply["usage"]), extra=extra,
                              error=f"unparseable: {exc}")
        except Exception as exc:  # a bug met by one reply is that item's error, not the run's
            return Completion(text=text.strip(), usage=dict(reply["usage"]), extra=extra,
                              error=f"could not read the reply's logprobs: {one_line(exc)}")
        return Completion(text=text.strip(), slot_probs=probs, usage=dict(reply["usage"]),
                          extra=extra)


async def _cancel_tasks(spare: Callable[[], Collection[asyncio.Task[Any]]] | None = None,
                        ) -> None:
    """Cancel the tasks an interrupted batch left, and let them finish. ``spare``: the
    tasks to let finish uncancelled, asked on the loop (requests whose reply is coming in,
    which their workers wait for)."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    spared = spare() if spare is not None else ()
    for task in tasks:
        if task not in spared:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
