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
exponential backoff and full jitter, waits at least what ``Retry-After`` asks (and holds every
request back meanwhile), and after the last attempt the request's error says why. Replies
are cached on disk (``judgecli.cache``) and metered (``judgecli.pricing``).

The API key is read from ``OPENAI_API_KEY`` only to give it to the client: it is not part
of any cache key, record or log, and it is scrubbed from every error message.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import re
import threading
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import openai

try:  # the HTTP library the installed openai client is built on
    from httpx2 import Response as _Response
except ImportError:  # openai < 3
    from httpx import Response as _Response  # type: ignore[no-redef,assignment,unused-ignore]

from ..cache import Cache, cache_key
from ..errors import BudgetExhausted, JudgecliError, JudgeLoadError
from ..parsers import one_line
from ..pricing import CostMeter, estimate_tokens, resolve_price
from ..ratelimit import Pace, backoff, retry_after
from .base import Completion, Judge, Request
from .token_probs import read_reply, slot_probs

APIS = ("chat", "completions")
TOP_LOGPROBS = 5  # as AlpacaEval's weighted annotators ask
POOL_SIZE = 16
OPENAI_URL = "https://api.openai.com/v1"
# Reasoning models take max_completion_tokens and refuse temperature and logprobs.
_REASONING = re.compile(r"^(o\d|gpt-5)")
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{6,}|Bearer\s+\S+)")
_T = TypeVar("_T")


class _Failure(Exception):
    """One attempt failed; ``retry`` says whether another may succeed."""

    def __init__(self, reason: str, *, retry: bool, wait: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.wait, self.status = reason, retry, wait, status
        self.attempts = 0


class OpenAIJudge(Judge):
    supports_score_mode = False  # no next-token distributions to restrict: explain mode

    def __init__(self, model: str, *, base_url: str | None = None, api: str = "chat",
                 concurrency: int = 16, rpm: float | None = None, tpm: float | None = None,
                 temperature: float = 0.0, timeout: float = 60.0, retries: int = 6,
                 backoff_base: float = 1.0, backoff_cap: float = 60.0,
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
        self._rng = random.Random()
        self._pause_until = 0.0
        # Servers that need no key still want the header; "EMPTY" is vLLM's documented value.
        # One client per POOL_SIZE connections: httpx's pool scans all its connections on
        # every request, so one pool of 64 costs more CPU than four of 16.
        self._clients = [openai.AsyncOpenAI(api_key=key or "EMPTY", base_url=base_url,
                                            max_retries=0, timeout=timeout,
                                            http_client=_http_client(transport))
                         for _ in range(-(-concurrency // POOL_SIZE))]
        self._busy = [0] * len(self._clients)
        self.cache = Cache(cache_dir) if cache else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._freed: asyncio.Condition | None = None  # --max-cost: a booking was settled
        self._thread: threading.Thread | None = None

    # -- the Judge interface -----------------------------------------------------------------
    def preferred_batch(self) -> int:
        # The runner asks for 4 batches a window: keep every connection busy across a window.
        return max(16, 4 * self.concurrency)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self._run(self._complete(list(requests)))

    def usage_report(self) -> str | None:
        if not (self.meter.requests or self.meter.cached or self.failed):
            return None
        line = self.meter.report()
        if self.retried or self.failed:
            line += f"; {self.retried} retried attempt(s), {self.failed} request(s) gave up"
        return line

    def close(self) -> None:
        if self._loop is not None:
            for client in self._clients:
                self._run(client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop.close()
            self._loop = None
        if self.cache is not None:
            self.cache.close()

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the judge's own loop (a thread), so that ``complete`` works the
        same from scripts, the CLI and code that already runs an event loop (notebooks)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="judgecli-openai")
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    # -- one batch ---------------------------------------------------------------------------
    async def _complete(self, requests: list[Request]) -> list[Completion]:
        """``concurrency`` workers take the requests in input order, so those in flight are
        always the earliest unanswered ones (the ones a --max-cost stop keeps)."""
        results: list[Completion | None] = [None] * len(requests)
        todo = iter(range(len(requests)))  # shared: each index is taken once
        stop: list[BudgetExhausted] = []

        async def worker() -> None:
            for i in todo:
                try:
                    results[i] = await self._one(requests[i])
                except BudgetExhausted as exc:
                    stop.append(exc)
                if stop:
                    return

        workers = [asyncio.ensure_future(worker())
                   for _ in range(min(self.concurrency, len(requests)))]
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

    async def _one(self, request: Request) -> Completion:
        while True:
            body = self._body(request)
            key = cache_key(endpoint=self._endpoint, api=self.api, **body) \
                if self.cache is not None else None
            hit = self.cache.get(key) if key is not None and self.cache is not None else None
            if hit is not None:
                self.meter.cached += 1
                return self._completion(request, hit, attempts=0, cached=True)
            try:
                reply, attempts = await self._attempts(body)
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

    # -- attempts ----------------------------------------------------------------------------
    async def _attempts(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Send until a reply comes or the retries are spent; returns (reply, attempts).
        Raises _Failure with the last reason, or BudgetExhausted before sending anything."""
        text = json.dumps(body.get("messages") or body.get("prompt"), ensure_ascii=False)
        messages = len(body.get("messages") or ())
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or 0
        prompt_estimate = estimate_tokens(text, messages)
        bound = self.meter.bound(len(text.encode("utf-8")), messages, limit)
        await self._reserve(bound)
        attempt = 0
        try:
            while True:
                attempt += 1
                pause = self._pause_until - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                if self._rpm is not None:
                    await self._rpm.take(1)
                if self._tpm is not None:
                    # OpenAI counts max_tokens towards the token limit when a request
                    # arrives, so the booking does too.
                    await self._tpm.take(prompt_estimate + limit)
                try:
                    reply = await self._call(body)
                    # A server that quotes the key back in a reply (some echo the request)
                    # must not carry it into the output or the cache.
                    reply["text"] = self._scrub(reply["text"])
                except _Failure as failure:
                    delay = self._delay(failure, attempt) if failure.retry else None
                    if delay is None or attempt > self.retries:
                        if attempt > 1:
                            failure.reason = f"gave up after {attempt} attempts: " \
                                             f"{failure.reason}"
                        failure.attempts = attempt
                        raise
                    self.retried += 1
                    await asyncio.sleep(delay)
                    continue
                usage = reply["usage"]
                # A server that reports no usage is counted at the estimate.
                self.meter.settle(bound, usage.get("prompt_tokens", prompt_estimate),
                                  usage.get("completion_tokens",
                                            estimate_tokens(reply["text"])))
                bound = 0.0
                return reply, attempt
        finally:
            self.meter.release(bound)
            self._money_freed()

    async def _reserve(self, bound: float) -> None:
        """Book a request's cost bound under --max-cost. Where the bookings of requests in
        flight stand in the way, wait for them to settle (each costs what its usage says,
        usually far below its bound) and try again: the run stops only when no request is
        in flight and the next one could still pass the cap, so the cap is used, not just
        the share left after the worst case of every request in flight."""
        while True:
            try:
                self.meter.reserve(bound)
                return
            except BudgetExhausted:
                if self.meter.booked <= 0:
                    raise
            if self._freed is None:
                self._freed = asyncio.Condition()
            async with self._freed:
                await self._freed.wait()

    def _money_freed(self) -> None:
        if self._freed is not None:
            freed = self._freed

            async def notify() -> None:
                async with freed:
                    freed.notify_all()

            asyncio.ensure_future(notify())

    def _delay(self, failure: _Failure, attempt: int) -> float | None:
        """How long to wait before the next attempt; None when the server asks for more
        than ``max_retry_after`` seconds (the reason then says so)."""
        jitter = backoff(attempt - 1, base=self._backoff[0], cap=self._backoff[1], rng=self._rng)
        if failure.wait is None:
            return jitter
        if failure.wait > self._max_retry_after:
            failure.reason += f"; the server asked to wait {failure.wait:.0f}s, more than " \
                              f"{self._max_retry_after:.0f}s"
            return None
        # At least what the server asked, and a little more so that the waiting requests do
        # not all come back in the same instant. The limit is shared: everyone waits.
        self._pause_until = max(self._pause_until, time.monotonic() + failure.wait)
        return failure.wait + min(jitter, 0.1 * failure.wait + 0.05)

    async def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        """One HTTP request; the reply normalised, or _Failure."""
        path = "/completions" if self.api == "completions" else "/chat/completions"
        try:
            # The client's documented way to send a request as is: its typed ``create``
            # re-validates every parameter and reply, which costs more CPU per request than
            # the whole rest of the judge (see bench/api_throughput.py).
            shard = self._busy.index(min(self._busy))
            self._busy[shard] += 1
            try:
                raw = await self._clients[shard].post(path, cast_to=_Response, body=body)
            finally:
                self._busy[shard] -= 1
        except openai.APIConnectionError as exc:
            # The aiohttp transport reports a dropped connection as a timeout: name the
            # underlying error instead of trusting the class.
            root = _root_cause(exc)
            if "timeout" in type(root).__name__.lower():
                raise _Failure(f"timed out after {self.timeout:g}s", retry=True) from None
            raise _Failure(f"connection failed ({type(root).__name__})", retry=True) from None
        except openai.APIStatusError as exc:
            raise self._status_failure(exc) from None
        try:
            data = json.loads(raw.text)
            return read_reply(data, chat=self.api == "chat")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            reason = "not JSON" if isinstance(exc, ValueError) else f"{type(exc).__name__}"
            raise _Failure(f"malformed reply ({reason})", retry=True) from None

    def _status_failure(self, exc: openai.APIStatusError) -> _Failure | JudgecliError:
        status = exc.status_code
        body = exc.body
        message = body.get("message") if isinstance(body, dict) else None
        message = self._scrub(str(message or exc.message))[:300]
        if status in (401, 403):
            return JudgeLoadError(f"the API refused the key (HTTP {status}): {message}")
        if status == 404:
            return JudgeLoadError(f"no such model or endpoint (HTTP 404) at {self._endpoint}: "
                                  f"{message}")
        retry = status in (408, 409, 429) or status >= 500
        wait = retry_after(exc.response.headers) if retry else None
        return _Failure(f"HTTP {status}: {message}", retry=retry, wait=wait, status=status)

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return _KEYLIKE.sub("***", text)

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
        except Exception as exc:  # a bug met by one reply is that item's error, not the run's
            return Completion(text=text.strip(), usage=dict(reply["usage"]), extra=extra,
                              error=f"could not read the reply's logprobs: {one_line(exc)}")
        return Completion(text=text.strip(), slot_probs=probs, usage=dict(reply["usage"]),
                          extra=extra)


def _http_client(transport: str) -> Any:
    """aiohttp where it is installed (``pip install "openai[aiohttp]"``), which openai
    documents for concurrency and which halves the CPU each request costs; else httpx."""
    if transport not in ("auto", "aiohttp", "httpx"):
        raise JudgeLoadError(f"unknown transport '{transport}'")
    if transport != "httpx" and importlib.util.find_spec("aiohttp") is not None and \
            hasattr(openai, "DefaultAioHttpClient"):
        try:
            return openai.DefaultAioHttpClient()
        except RuntimeError:  # the SDK's aiohttp glue is missing
            pass
    if transport == "aiohttp":
        raise JudgeLoadError('the aiohttp transport needs: pip install "openai[aiohttp]"')
    return None  # the client's default (httpx)


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (nxt := exc.__cause__ or exc.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        exc = nxt
    return exc
