"""Sending one request to an OpenAI-compatible server: retries, pacing, --max-cost.

A mixin of ``OpenAIJudge`` (whose ``__init__`` sets the attributes used here). The client's
own retries are off: this policy retries 429, 408/409, 5xx, timeouts, dropped connections
and malformed bodies with exponential backoff and full jitter, and after the last attempt
the request's error says why. A failure delays only its own request (at least what
``Retry-After`` asks); the others are held back only where the server's rate-limit headers
say the account is used up (until it resets, ``ratelimit.ServerLimits``), and a 429 that
gives no guidance at all halves the requests in flight, grown back as replies succeed
(``ratelimit.Window``).
"""

from __future__ import annotations

import asyncio
import bisect
import importlib.util
import json
import random
import re
import time
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

import openai

try:  # the HTTP library the installed openai client is built on
    from httpx2 import Response as _Response
except ImportError:  # openai < 3
    from httpx import Response as _Response  # type: ignore[no-redef,assignment,unused-ignore]

from ...errors import BudgetExhausted, JudgecliError, JudgeLoadError
from .pricing import CostMeter, estimate_tokens
from .ratelimit import Pace, ServerLimits, Window, backoff, retry_after
from .token_probs import read_reply

_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{6,}|Bearer\s+\S+)")


class _Failure(Exception):
    """One attempt failed; ``retry`` says whether another may succeed."""

    def __init__(self, reason: str, *, retry: bool, wait: float | None = None,
                 status: int | None = None, guided: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.wait, self.status = reason, retry, wait, status
        self.guided = guided or wait is not None  # the server said how long to wait
        self.attempts = 0

    @property
    def overloaded(self) -> bool:
        """A 429 that says nothing of when to come back: too many requests in flight."""
        return self.status == 429 and not self.guided


class _Reading:
    """A request sent on its own task (``post``); ``came`` once its reply's head is in."""

    def __init__(self) -> None:
        self.came = False
        self.post: asyncio.Task[dict[str, Any]] | None = None


# The request the current task sends, for the HTTP client's response hook (``_head_came``).
_READING: ContextVar[_Reading | None] = ContextVar("judgecli_reading", default=None)


async def _head_came(_: Any) -> None:
    """The HTTP client's response hook, run by the task sending the request once the
    reply's head is in and before its body is read."""
    reading = _READING.get()
    if reading is not None:
        reading.came = True


class Attempts:
    """Sends a request until a reply comes or the retries are spent (see the module)."""

    # Set by OpenAIJudge.__init__:
    api: str
    timeout: float
    retries: int
    retried: int
    meter: CostMeter
    _key: str
    _endpoint: str
    _backoff: tuple[float, float]
    _max_retry_after: float
    _rng: random.Random
    _window: Window
    _limits: ServerLimits
    _rpm: Pace | None
    _tpm: Pace | None
    _sent: int
    _clients: list[Any]
    _busy: list[int]
    _freed: asyncio.Condition | None
    _money_queue: list[tuple[int, int]]
    _reading: set[_Reading]  # requests sent, their replies not yet read
    _stopped: set[asyncio.Task[Any]]  # tasks to stop once their reply is recorded (_whole)

    async def _attempts(self, body: dict[str, Any], place: tuple[int, int] = (0, 0),
                        ) -> tuple[dict[str, Any], int]:
        """Send until a reply comes or the retries are spent; returns (reply, attempts).
        ``place``: (batch, index), the order in which requests waiting for a slot go.
        Raises _Failure with the last reason, or BudgetExhausted before sending anything."""
        text = json.dumps(body.get("messages") or body.get("prompt"), ensure_ascii=False)
        messages = len(body.get("messages") or ())
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or 0
        prompt_estimate = estimate_tokens(text, messages)
        bound = self.meter.bound(len(text.encode("utf-8")), messages, limit)
        await self._reserve(bound, place)
        attempt = 0
        try:
            while True:
                attempt += 1
                # OpenAI counts max_tokens towards the token limit when a request arrives,
                # so the bookings and the check against the headers do too.
                if self._rpm is not None:
                    await self._rpm.take(1)
                if self._tpm is not None:
                    await self._tpm.take(prompt_estimate + limit)
                while True:
                    await self._until_limits_allow(prompt_estimate + limit)
                    started = await self._window.acquire(place)
                    if self._limits.wait(prompt_estimate + limit, started) <= 0:
                        break
                    self._window.give_back()  # the account ran out while it waited
                self._limits.started(started)
                self._sent += 1
                try:
                    reply = await self._whole(body, self._sent)
                    # A server that quotes the key back in a reply (some echo the request)
                    # must not carry it into the output or the cache.
                    reply["text"] = self._scrub(reply["text"])
                except _Failure as failure:
                    self._window.release(started, overloaded=failure.overloaded)
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
                except BaseException:
                    self._window.release(started)
                    raise
                self._window.release(started)
                usage = reply["usage"]
                # A server that reports no usage is counted at the estimate.
                self.meter.settle(usage.get("prompt_tokens", prompt_estimate),
                                  usage.get("completion_tokens",
                                            estimate_tokens(reply["text"])))
                return reply, attempt
        finally:
            self.meter.unbook(bound)
            self._money_freed()

    async def _whole(self, body: dict[str, Any], sequence: int) -> dict[str, Any]:
        """``_call`` on a task of its own, so that a stop (Ctrl-C cancels the run's tasks)
        that comes once the reply's head is in waits for the rest of it: that reply is paid
        for, so it is metered and cached like any other (issue 26: replies that came while a
        run was being cancelled were neither counted nor kept, and --resume asked again).
        The stop then takes effect once the worker has recorded it (``_stopped``)."""
        reading = _Reading()
        token = _READING.set(reading)  # the new task copies this context, so sees it
        try:
            post = reading.post = asyncio.ensure_future(self._call(body, sequence))
        finally:
            _READING.reset(token)
        self._reading.add(reading)
        stopped = False
        try:
            while True:
                try:
                    reply = await asyncio.shield(post)
                    break
                except asyncio.CancelledError:
                    if reading.came and not post.cancelled():
                        stopped = True  # its reply is coming in: read it whole, then stop
                        continue
                    if post.done() and not post.cancelled():
                        post.exception()  # retrieved (so not logged): the stop drops it
                    post.cancel()
                    raise
                except BaseException:
                    if stopped:  # no retry after a stop: it was cancelled, in effect
                        raise asyncio.CancelledError from None
                    raise
        finally:
            self._reading.discard(reading)
        if stopped:
            self._stopped.add(asyncio.current_task())  # type: ignore[arg-type]
        return reply

    def _spare(self) -> Collection[asyncio.Task[Any]]:
        """What a stop leaves to finish: the requests whose reply is coming in."""
        return {r.post for r in self._reading if r.came and r.post is not None}

    def _stop_deferred(self) -> bool:
        """Whether a stop came while the current task read its reply (now recorded)."""
        task = asyncio.current_task()
        if task in self._stopped:
            self._stopped.discard(task)  # type: ignore[arg-type]
            return True
        return False

    async def _until_limits_allow(self, tokens: float) -> None:
        """Wait while the rate-limit headers say the account is used up (with a little
        jitter, so that the requests held back do not all return in one instant)."""
        while (pause := self._limits.wait(tokens, time.monotonic())) > 0:
            await asyncio.sleep(pause + self._rng.uniform(0.0, min(0.5, 0.1 * pause)))

    async def _reserve(self, bound: float, place: tuple[int, int] = (0, 0)) -> None:
        """Book a request's cost bound under --max-cost. Where the bookings of requests in
        flight stand in the way, wait for them to settle (each costs what its usage says,
        usually far below its bound) and try again: the run stops only when no request is
        in flight and the next one could still pass the cap, so the cap is used, not just
        the share left after the worst case of every request in flight. Requests book in
        input order (``place``), so that what a stop keeps is a prefix of the input: a
        later request never takes the money an earlier one waits for."""
        bisect.insort(self._money_queue, place)
        try:
            while True:
                if self._money_queue[0] == place:
                    try:
                        self.meter.reserve(bound)
                        return
                    except BudgetExhausted:
                        if self.meter.open == 0:  # nothing in flight can free money: stop
                            raise
                if self._freed is None:
                    self._freed = asyncio.Condition()
                async with self._freed:
                    await self._freed.wait()
        finally:
            self._money_queue.remove(place)
            self._money_freed()  # the next in line may go (or stop) now

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
        # not all come back in the same instant. Only this request waits: the others are
        # held back where the rate-limit headers say the account is used up (_limits).
        return failure.wait + min(jitter, 0.1 * failure.wait + 0.05)

    async def _call(self, body: dict[str, Any], sequence: int = 0) -> dict[str, Any]:
        """One HTTP request; the reply normalised, or _Failure. ``sequence``: its place
        among the requests sent (what the rate-limit headers' counts are read against)."""
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
            self._limits.note(exc.response.headers, time.monotonic(), self._sent - sequence)
            raise self._status_failure(exc) from None
        self._limits.note(raw.headers, time.monotonic(), self._sent - sequence)
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
        headers = exc.response.headers
        wait = retry_after(headers) if retry else None
        guided = any(k.startswith("x-ratelimit-") for k in headers.keys())
        return _Failure(f"HTTP {status}: {message}", retry=retry, wait=wait, status=status,
                        guided=guided)

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return _KEYLIKE.sub("***", text)


def _http_client(transport: str, watch: bool = False) -> Any:
    """aiohttp where it is installed (``pip install "openai[aiohttp]"``), which openai
    documents for concurrency and which halves the CPU each request costs; else httpx.
    ``watch``: tell ``_whole`` when a reply's head is in (the client's response hook)."""
    if transport not in ("auto", "aiohttp", "httpx"):
        raise JudgeLoadError(f"unknown transport '{transport}'")
    options = {"event_hooks": {"response": [_head_came]}} if watch else {}
    if transport != "httpx" and importlib.util.find_spec("aiohttp") is not None and \
            hasattr(openai, "DefaultAioHttpClient"):
        try:
            return openai.DefaultAioHttpClient(**options)
        except RuntimeError:  # the SDK's aiohttp glue is missing
            pass
    if transport == "aiohttp":
        raise JudgeLoadError('the aiohttp transport needs: pip install "openai[aiohttp]"')
    # The client's default (httpx), with openai's defaults where a hook is added.
    return openai.DefaultAsyncHttpxClient(**options) if watch else None


def _root_cause(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (nxt := exc.__cause__ or exc.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        exc = nxt
    return exc
