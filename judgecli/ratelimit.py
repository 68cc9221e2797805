"""Pacing and backing off for API judges: rpm/tpm limits, retry delays, ``Retry-After``.

``Pace`` is a generic cell-rate algorithm (a token bucket written as one timestamp): each use
of ``units`` books ``units / rate`` seconds of the limit, and a caller waits while the
bookings run more than ``burst`` seconds ahead of now. Bookings are made before waiting, so
concurrent callers queue in order and the limit holds under any concurrency.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
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
