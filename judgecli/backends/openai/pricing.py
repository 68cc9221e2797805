"""What judging through an API costs: a price table, token estimates, and a meter; and the
context windows of known models, which a prompt and its completion must fit.

Prices are USD per million tokens (input, output) at OpenAI's standard tier, from
https://openai.com/api/pricing as published in 2025 (no cached-input discounts, so costs are
upper bounds for cached prompts); the Batch API (``--batch``) costs ``BATCH_FACTOR`` of them.
Prices change: ``--price-in``/``--price-out`` override them, and a model not listed has an
unknown cost unless they are given.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import BudgetExhausted, JudgecliError

if TYPE_CHECKING:
    from ...templates import Prompt

# USD per million (prompt, completion) tokens, standard tier. The GPT-5, GPT-4o, o3 and
# GPT-3.5 rows agree with copies of platform.openai.com/docs/pricing from 2025-2026 (checked
# 2026-11-22); prices change, so --price-in / --price-out override the table.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-turbo-preview": (10.00, 30.00),
    "gpt-4-1106-preview": (10.00, 30.00),
    "gpt-4-0125-preview": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-4-32k": (60.00, 120.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}

# Context windows in tokens (the prompt and the completion together), as OpenAI's model
# pages give them (platform.openai.com/docs/models/MODEL, e.g. .../gpt-4.1: "1,047,576
# context window"). Only models whose window is certain are listed: a model not here is
# sent whatever its prompt's length, and the server's refusal is its item's error. (GPT-5's
# pages give 400,000 tokens of which up to 128,000 are output, so its prompts' own limit is
# not one number: left out.)
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-2024-05-13": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-turbo-preview": 128_000,
    "gpt-4-1106-preview": 128_000,
    "gpt-4-0125-preview": 128_000,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-3.5-turbo": 16_385,
    "gpt-3.5-turbo-0301": 4_096,  # the first snapshots had 4k, not the family's 16k
    "gpt-3.5-turbo-0613": 4_096,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
}

# OpenAI's Batch API: "50% cost discount compared to synchronous APIs"
# (platform.openai.com/docs/guides/batch), on input and output tokens alike.
BATCH_FACTOR = 0.5
BATCH_NOTE = "Batch API price"

# A dated snapshot costs what its family costs: gpt-4o-2024-08-06 -> gpt-4o, gpt-4-0613 -> gpt-4.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")

# OpenAI's rule of thumb: a token is about four characters of English text. No tokenizer is
# loaded (tiktoken downloads its encodings), so estimates say so wherever they are shown.
CHARS_PER_TOKEN = 4
# Per message: role and framing tokens of the chat format (OpenAI's cookbook counts 3-4).
MESSAGE_OVERHEAD = 4


def lookup(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for a model name, or None if unknown."""
    if model in PRICES:
        return PRICES[model]
    return PRICES.get(_SNAPSHOT.sub("", model))


def estimate_tokens(text: str, messages: int = 0) -> int:
    """A rough token count: characters / 4, plus a few tokens per chat message."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * messages


def context_window(model: str) -> int | None:
    """The context window of a model name in tokens, or None if unknown."""
    if model in CONTEXT_WINDOWS:
        return CONTEXT_WINDOWS[model]
    return CONTEXT_WINDOWS.get(_SNAPSHOT.sub("", model))


def prompt_tokens(prompt: Prompt) -> int:
    """A prompt's estimated tokens as it is sent: a text prompt as one message."""
    if prompt.text is not None:
        return estimate_tokens(prompt.text, 1)
    messages = prompt.messages or ()
    return estimate_tokens("".join(m["content"] for m in messages), len(messages))


@dataclass(frozen=True)
class Price:
    per_million_in: float
    per_million_out: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.per_million_in
                + completion_tokens * self.per_million_out) / 1e6

    def scaled(self, factor: float) -> Price:
        return Price(self.per_million_in * factor, self.per_million_out * factor)


def payload_size(payload: str | list[dict[str, str]]) -> tuple[int, int]:
    """(UTF-8 bytes of its JSON, chat messages) of what a request carries: its ``messages``
    or its raw ``prompt``. What ``CostMeter.bound`` takes, so that a dry run and a batch's
    check against --max-cost count the same bytes."""
    size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return size, len(payload) if isinstance(payload, list) else 0


def resolve_price(model: str, price_in: float | None = None,
                  price_out: float | None = None) -> Price | None:
    """The table's price for ``model`` with either side overridden; None if unknown."""
    known = lookup(model)
    if price_in is None and price_out is None and known is None:
        return None
    if known is None and (price_in is None or price_out is None):
        raise JudgecliError(f"no price known for '{model}': give both --price-in and "
                            "--price-out (USD per million tokens)")
    base_in, base_out = known or (0.0, 0.0)
    return Price(base_in if price_in is None else price_in,
                 base_out if price_out is None else price_out)


class CostMeter:
    """Tokens and dollars spent, and the ``--max-cost`` cap.

    Before a request is sent, ``reserve`` books an upper bound on its cost (``bound``);
    ``settle`` counts what its ``usage`` reports and ``unbook`` ends the booking (answered,
    failed or cancelled). A request whose bound would take spent plus booked money over the
    cap is not sent, so the cap holds with requests in flight. ``open`` counts the bookings:
    the booked dollars are a float sum, which need not come back to exactly 0 (issue 26: a
    residue of 1e-17 made a capped run wait forever for a booking that no longer existed)."""

    def __init__(self, price: Price | None, max_cost: float | None = None, *,
                 note: str | None = None) -> None:
        """``note``: what the cost line says of the price (the Batch API's)."""
        if max_cost is not None and price is None:
            raise JudgecliError("--max-cost needs the model's price; give --price-in and "
                                "--price-out (USD per million tokens)")
        if max_cost is not None and max_cost < 0:
            raise JudgecliError("--max-cost must not be negative")
        self.price, self.max_cost, self.note = price, max_cost, note
        self.prompt_tokens = self.completion_tokens = 0
        self.requests = self.cached = 0
        self.spent = self.booked = 0.0
        self.open = 0  # bookings not yet ended

    def bound(self, prompt_bytes: int, messages: int, max_tokens: int) -> float:
        """An upper bound on a request's cost: a byte-level tokenizer never makes more tokens
        than the prompt has UTF-8 bytes, and the completion stops at ``max_tokens``."""
        if self.price is None:
            return 0.0
        return self.price.cost(prompt_bytes + 2 * MESSAGE_OVERHEAD * (messages + 1), max_tokens)

    def reserve(self, bound: float) -> None:
        """Book ``bound`` dollars, or raise BudgetExhausted if that would pass the cap."""
        if self.max_cost is not None and self.spent + self.booked + bound > self.max_cost:
            raise BudgetExhausted(self.stop_message())
        self.booked += bound
        self.open += 1

    def unbook(self, bound: float) -> None:
        """End a booking made by ``reserve`` (what it spent, if anything, is ``settle``'s)."""
        self.open -= 1
        self.booked = max(0.0, self.booked - bound) if self.open > 0 else 0.0

    def stop_message(self) -> str:
        return (f"stopped before going over --max-cost ${self.max_cost:g} (spent "
                f"${self.spent:.4f}); every judgment so far is written, finish with --resume")

    def settle(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one answered request's usage and cost."""
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if self.price is not None:
            self.spent += self.price.cost(prompt_tokens, completion_tokens)

    def report(self) -> str:
        line = (f"tokens: {self.prompt_tokens:,} prompt + {self.completion_tokens:,} "
                f"completion in {self.requests:,} request(s)")
        if self.cached:
            line += f"; {self.cached:,} answered from the cache (free)"
        if self.price is None:
            return line + "; cost unknown (no price for this model; see --price-in/--price-out)"
        return line + f"; cost ${self.spent:.4f}" + (f" ({self.note})" if self.note else "")


def total_report(meters: dict[str, CostMeter]) -> str:
    """One line for several judges' meters (judge name -> meter): their tokens and requests
    summed, and their dollars where each judge's price is known."""
    every = list(meters.values())
    line = (f"total: {sum(m.prompt_tokens for m in every):,} prompt + "
            f"{sum(m.completion_tokens for m in every):,} completion tokens in "
            f"{sum(m.requests for m in every):,} request(s)")
    cached = sum(m.cached for m in every)
    if cached:
        line += f"; {cached:,} answered from the cache (free)"
    line += f"; cost ${sum(m.spent for m in every if m.price is not None):.4f}"
    unknown = [name for name, m in meters.items() if m.price is None]
    if unknown:
        line += f" + unknown ({', '.join(unknown)}: no price)"
    return line


class Estimate:
    """``--dry-run`` for an API judge: tokens and cost of the prompts, without any call."""

    def __init__(self, model: str, max_new_tokens: int, *, price_in: float | None = None,
                 price_out: float | None = None, role: str | None = None,
                 unknown_tokens: int = 0, batch: bool = False, api: str = "chat") -> None:
        """``unknown_tokens``: at most this many more prompt tokens a request, not known
        before judging (a reviewer's prompt holds the first judge's text). ``batch``: at
        the Batch API's price, with the worst case that --max-cost must allow before a
        batch is submitted (``api``: how the prompts are sent, which that counts)."""
        self.model, self.max_new_tokens = model, max_new_tokens
        self.role, self.unknown_tokens = role, unknown_tokens
        self.batch, self.api = batch, api
        price = resolve_price(model, price_in, price_out)
        self.price = price.scaled(BATCH_FACTOR) if batch and price is not None else price
        self.requests = self.prompt_tokens = 0
        self.worst = 0.0  # the sum of CostMeter.bound over the requests (batch only)
        self.window = context_window(model)
        self.too_long = self.longest = 0  # prompts that cannot fit the window; the longest

    def add(self, prompt: Prompt) -> None:
        tokens = prompt_tokens(prompt)
        self.prompt_tokens += tokens
        self.requests += 1
        if self.window is not None and \
                tokens + self.unknown_tokens + self.max_new_tokens > self.window:
            self.too_long += 1
            self.longest = max(self.longest, tokens)
        if self.batch:
            # As the judge sends it (OpenAIJudge._body): a text prompt is the raw prompt of
            # /v1/completions, or one user message.
            payload: str | list[dict[str, str]] = prompt.text if self.api == "completions" \
                and prompt.text is not None else \
                [{"role": "user", "content": prompt.text}] if prompt.text is not None else \
                [dict(m) for m in prompt.messages or ()]
            size, messages = payload_size(payload)
            self.worst += CostMeter(self.price).bound(size, messages, self.max_new_tokens)

    def report(self) -> str:
        most = self.requests * self.max_new_tokens
        unknown = self.requests * self.unknown_tokens
        role = f" as {self.role}" if self.role else ""
        line = (f"estimate for openai:{self.model}{role} (nothing sent, cache not consulted): "
                f"{self.requests:,} request(s), ~{self.prompt_tokens:,} prompt tokens "
                f"(characters / {CHARS_PER_TOKEN})")
        if unknown:
            line += (f" + at most {unknown:,} for the first judge's texts (not known before "
                     "judging)")
        line += (f", at most {most:,} completion tokens "
                 f"(--max-new-tokens {self.max_new_tokens} each)")
        if self.price is None:
            return line + "; cost unknown (no price for this model; give --price-in and " \
                          "--price-out)"
        low = self.price.cost(self.prompt_tokens, 0)
        rest = " + the first judge's texts" if unknown else ""
        line += f"; cost ~${low:.4f} for the prompts + at most " \
                f"${self.price.cost(unknown, most):.4f} for the completions{rest}"
        if self.batch:
            line += f" ({BATCH_NOTE}); a batch is submitted only if --max-cost allows its " \
                    f"worst case, ${self.worst:.4f} here (a token per prompt byte){rest}"
        return line

    def context_note(self, truncate: bool = False) -> str | None:
        """The prompts that cannot fit the model's context window, if any: what becomes of
        them (``truncate``: --truncate was given)."""
        if not self.too_long:
            return None
        role = f" as {self.role}" if self.role else ""
        fit = "may not fit (with the first judge's texts)" if self.unknown_tokens else \
            "do not fit"
        fate = "their answers will be cut to fit (--truncate; the estimate counts them " \
            "whole)" if truncate else "they will not be sent, their judgment an error " \
            "naming the length (--truncate cuts their answers to fit)"
        return (f"openai:{self.model}{role}: {self.too_long:,} prompt(s) {fit} its context "
                f"window of {self.window:,} tokens with --max-new-tokens "
                f"{self.max_new_tokens} (the longest ~{self.longest:,} tokens, characters / "
                f"{CHARS_PER_TOKEN}); {fate}")
