"""Pacing and backing off for API judges: rpm/tpm limits, retry delays, ``Retry-After``.

``Pace`` is a generic cell-rate algorithm (a token bucket written as one timestamp): each use
of ``units`` books ``units / rate`` seconds of the limit, and a caller waits while the
bookings run more than ``burst`` seconds ahead of now. Bookings are made before waiting, so
concurrent callers queue in order and the limit holds under any concurrency.
"""

from __future__ import annotations

import asyncio
import email.utils
import heapq
import random
import re
import time
from collections.abc import Mapping


class Pace:
    """At most ``per_minute`` units a minute, with bursts of up to ``burst`` seconds' worth."""

    def __init__(self, per_minute: float, *, burst: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError("a pace needs a positive rate")
        self.rate = per_minute / 60.0
        self.burst = burst
        self._booked = 0.0  # the time up to which the limit is used

    def book(self, units: float, now: float) -> float:
        """Book ``units`` and return how long to wait before using them."""
        start = max(self._booked, now)
        self._booked = start + units / self.rate
        return max(0.0, start - self.burst - now)

    async def take(self, units: float = 1.0) -> None:
        delay = self.book(units, time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].

    Full jitter spreads the retries of many concurrent requests that failed together (AWS
    Architecture Blog, "Exponential Backoff And Jitter", 2015)."""
    return (rng or random).uniform(0.0, min(cap, base * 2 ** attempt))


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms`` (OpenAI's), else ``Retry-After``
    as seconds or an HTTP date (RFC 9110 section 10.2.3); None when absent or unreadable."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def reset_seconds(value: str | None) -> float | None:
    """OpenAI's ``x-ratelimit-reset-*`` durations ("1s", "6m0s", "20ms", "1h2m3.5s"), or a
    plain number of seconds; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


class ServerLimits:
    """What the server's rate-limit headers say about the account (OpenAI sends them with
    every reply: ``x-ratelimit-remaining-requests`` / ``-tokens`` and ``x-ratelimit-reset-
    requests`` / ``-tokens``). A reply's remaining count was taken when its request arrived,
    so the requests sent after it have used some of it already; when nothing is left, no
    request starts before the limit resets: sending it would only earn a 429. Otherwise the
    headers hold nobody back."""

    def __init__(self) -> None:
        self.until = 0.0  # no request starts before this (time.monotonic())
        self._credit: float | None = None  # requests the account still takes, until reset
        self._reset_at = 0.0
        self._tokens: tuple[float, float] | None = None  # (remaining, reset at)

    def note(self, headers: Mapping[str, str] | None, now: float, sent_since: int = 0) -> None:
        """Read a reply's headers; ``sent_since``: requests started after its own."""
        if not headers:
            return
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            reset = reset_seconds(headers.get(f"x-ratelimit-reset-{kind}"))
            try:
                left = float(remaining) if remaining is not None else None
            except ValueError:
                left = None
            if left is None or reset is None:
                continue
            if kind == "tokens":
                self._tokens = (left, now + reset)
                if left <= 0:
                    self.until = max(self.until, now + reset)
                continue
            self._credit, self._reset_at = left - sent_since, now + reset
            if self._credit <= 0:
                self.until = max(self.until, self._reset_at)

    def started(self, now: float) -> None:
        """A request is being sent: it uses one of the requests left."""
        if self._credit is None or now >= self._reset_at:
            self._credit = None  # reset since: nothing known until the next reply
            return
        self._credit -= 1
        if self._credit <= 0:
            self.until = max(self.until, self._reset_at)

    def wait(self, tokens: float, now: float) -> float:
        """Seconds a request of about ``tokens`` tokens should wait before it starts."""
        delay = self.until - now
        if self._tokens is not None and tokens > self._tokens[0] and self._tokens[1] > now:
            delay = max(delay, self._tokens[1] - now)
        return max(0.0, delay)


class Window:
    """How many requests may be in flight: at most ``ceiling`` (--concurrency), cut by half
    when the server says it is overloaded without saying for how long (a 429 with neither
    ``Retry-After`` nor rate-limit headers) and grown back by one a round trip's worth of
    successes (additive increase, multiplicative decrease, as TCP finds a path's rate). At
    most one cut per round trip: the replies of requests sent before a cut do not cut again.
    Waiters are served by their place (batch, then input order): the earliest go first."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_flight = 0
        self.cuts = 0
        self._waiters: list[tuple[tuple[int, int], int, asyncio.Future[None]]] = []  # a heap
        self._arrivals = 0
        self._last_cut = -1.0e9

    async def acquire(self, place: tuple[int, int] = (0, 0)) -> float:
        """Wait for a slot; returns the time the request starts."""
        if self.in_flight >= int(self.limit) or self._waiters:
            future = asyncio.get_running_loop().create_future()
            self._arrivals += 1
            heapq.heappush(self._waiters, (place, self._arrivals, future))
            self._wake()  # a slot may be free behind waiters that were cancelled
            try:
                await future
            except BaseException:
                if future.done() and not future.cancelled():
                    self.in_flight -= 1  # the slot handed to us goes to the next in line
                    self._wake()
                else:
                    future.cancel()  # left in the heap; skipped when its turn comes
                raise
        else:
            self.in_flight += 1
        return time.monotonic()

    def give_back(self) -> None:
        """A slot taken but not used (the request was held back after all)."""
        self.in_flight -= 1
        self._wake()

    def release(self, started: float, *, overloaded: bool = False) -> None:
        now = time.monotonic()
        self.in_flight -= 1
        if overloaded:
            if started >= self._last_cut:  # sent after the last cut: a new signal
                self.limit = max(1.0, self.limit / 2)
                self._last_cut, self.cuts = now, self.cuts + 1
        else:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            future = heapq.heappop(self._waiters)[2]
            if not future.done():  # (a cancelled waiter is dropped)
                self.in_flight += 1
                future.set_result(None)
