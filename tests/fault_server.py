"""A loopback OpenAI-compatible server that misbehaves on purpose, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` and ``POST /v1/completions`` on 127.0.0.1 only,
after ``latency`` seconds (plus up to ``jitter``, so replies overtake one another), with a
judgment or with one of these faults (and ``GET
/v1/stats`` with the requests received and the most ever in flight at once):

    ok           a judgment (``judge_reply``), with logprobs when asked for them
    429          rate limited, with ``Retry-After: retry_after`` (seconds)
    500, 503     server errors with an OpenAI-style error body
    timeout      holds the connection ``hang`` seconds, then drops it without a reply
    drop         closes the connection without a reply
    malformed    200 with a truncated JSON body
    unparseable  200 with a well-formed reply whose text fits no judge format
    401          the key refused, the message quoting it back (as careless servers do)
    404          no such model

Which outcome a request gets: ``script`` maps an item tag (the first ``ITEM-<tag>`` in the
prompt) to the outcomes of that prompt's successive attempts (then ``ok``); otherwise
``rates`` (fault -> probability, drawn from a seeded generator). Every request is counted
per distinct prompt, so a test can check that nothing was asked twice.

It is bounded: a request body over 1 MiB is refused, at most ``max_requests`` are served,
and the server stops by itself after ``lifetime`` seconds. ``python fault_server.py
--latency 0.1`` runs one in its own process (for the benchmark) and prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULTS = ("ok", "429", "500", "503", "timeout", "drop", "malformed", "unparseable", "401",
          "404")
_ITEM = re.compile(r"ITEM-(\w+)")
_TOKEN = re.compile(r"\[\[|\]\]|\s?\d+|\s?[A-Za-z]+|\s|.", re.S)
_MAX_BODY = 1 << 20


def judge_reply(prompt: str) -> str:
    """The judgment a well-behaved judge gives: the answer marked GOOD wins, in any order.

    Writes the format the prompt asks for: MT-Bench ``[[A]]``/``[[B]]``, PandaLM ``1``/``2``,
    else JudgeLM's two scores on the first line."""
    good, bad = prompt.find("GOOD"), prompt.find("BAD")
    first_wins = good != -1 and (bad == -1 or good < bad)
    if "[[A]]" in prompt:
        return f"The first is {'better' if first_wins else 'worse'}.\n\n" \
               f"[[{'A' if first_wins else 'B'}]]"
    if "### Evaluation:" in prompt:
        return ("1" if first_wins else "2") + "\n\nReference: fine."
    return ("9 2" if first_wins else "2 9") + "\nThe better answer is more accurate."


def _alternatives(token: str) -> list[tuple[str, float]]:
    """Top logprobs of a fake token: a score or verdict token is 80% sure, with a runner-up
    value at 15% and a stray non-value token at 5%; any other token is certain."""
    core, lead = token.strip(), token[:len(token) - len(token.lstrip())]
    # (int() of a number over 4,300 digits raises: such a reply is sent, with no alternatives.)
    if core.isdigit() and len(core) <= 2 and 1 <= int(core) <= 10:
        other = str(int(core) - 1 if int(core) > 1 else 2)
    elif core in ("A", "B"):
        other = "B" if core == "A" else "A"
    else:
        return [(token, 0.0)]
    return [(token, math.log(0.80)), (lead + other, math.log(0.15)), (lead + "The", math.log(0.05))]


class FaultServer:
    """``with FaultServer(latency=0.05, script={"3": ["429", "ok"]}) as server: server.url``"""

    def __init__(self, *, latency: float = 0.0, jitter: float = 0.0,
                 script: dict[str, list[str]] | None = None,
                 rates: dict[str, float] | None = None, retry_after: float | None = 1.0,
                 hang: float = 2.0, seed: int = 0, logprobs: bool = True,
                 max_requests: int = 100_000, lifetime: float = 300.0,
                 reply: Callable[[str], str] = judge_reply,
                 quota: tuple[int, float] | None = None, capacity: int | None = None,
                 hold_after: int | None = None) -> None:
        """``quota`` (n, seconds): an account allowed n requests a window of that many
        seconds; every reply says what is left as OpenAI's x-ratelimit-* headers do, and a
        request over it is a 429 with those headers (remaining 0) and no Retry-After.
        ``capacity``: a server that answers a 429 with no guidance at all (no Retry-After,
        no rate-limit headers) to a request that finds that many already in flight.
        ``hold_after``: answer that many requests, then hold every later one (``held``
        counts them) until ``release()``: a client is then sure to be mid-run, whatever the
        machine's speed (a test interrupts it there)."""
        for fault in list((script or {}).values()) + [list(rates or {})]:
            unknown = set(fault) - set(FAULTS)
            if unknown:
                raise ValueError(f"unknown fault(s) {unknown}; known: {FAULTS}")
        self.latency, self.jitter = latency, jitter
        self.script, self.rates = script or {}, rates or {}
        self.retry_after, self.hang, self.logprobs = retry_after, hang, logprobs
        self.max_requests, self.lifetime, self.reply = max_requests, lifetime, reply
        self._random = random.Random(seed)
        self.quota, self.capacity = quota, capacity
        self._quota_window, self._quota_used = -1, 0
        self._started = time.monotonic()
        self.attempts: Counter[str] = Counter()  # prompt key -> requests received
        self.rejected: Counter[str] = Counter()  # 429s for "quota" and "overload"
        self.served: Counter[str] = Counter()  # prompt key -> 200 replies sent
        self.log: list[tuple[float, str, str, str]] = []  # (time, item tag, outcome, path)
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.peak = 0
        self.hold_after, self.held = hold_after, 0
        self._gate: asyncio.Event | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def total(self) -> int:
        return sum(self.attempts.values())

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> FaultServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault server did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def release(self) -> None:
        """Let the requests ``hold_after`` holds (and every later one) go on."""
        self.hold_after = None
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)

    def stop(self) -> None:
        if self._loop is not None and not self._stopped.is_set():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port,
                                            backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        deadline = time.monotonic() + self.lifetime
        while not self._stopped.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self._stopped.set()
        server.close()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    # -- HTTP --------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                length = int(headers.get("content-length", "0"))
                if length > _MAX_BODY:
                    await self._send(writer, 413, {"error": {"message": "too large"}})
                    break
                body = await reader.readexactly(length) if length else b""
                if not await self._handle(method, path, headers, body, writer):
                    break
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError,
                ValueError):
            pass  # a client that left, a malformed request, or the server stopping
        finally:
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: Any,
                    headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(data)}\r\n{extra}\r\n".encode() + data)
        await writer.drain()

    async def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes,
                      writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        chat = path.endswith("/chat/completions")
        if method == "GET" and path.endswith("/stats"):
            await self._send(writer, 200, {"requests": self.total, "peak": self.peak})
            return True
        if method != "POST" or not (chat or path.endswith("/completions")):
            await self._send(writer, 404, {"error": {"message": f"no route {path}"}})
            return True
        if self.total >= self.max_requests:
            await self._send(writer, 503, {"error": {"message": "request budget spent"}})
            return True
        request = json.loads(body)
        prompt = "\n".join(m["content"] for m in request["messages"]) if chat \
            else request["prompt"]
        key = hashlib.sha256(prompt.encode()).hexdigest()[:16]
        tag = (_ITEM.search(prompt) or [None, "?"])[1]
        attempt = self.attempts[key]
        self.attempts[key] += 1
        self.headers.append(headers)
        plan = self.script.get(tag, [])
        outcome = plan[attempt] if attempt < len(plan) else self._draw()
        if self.capacity is not None and self.in_flight >= self.capacity:
            outcome = "overload"
        limits = self._quota_headers()
        if limits is not None and limits["x-ratelimit-remaining-requests"] == "-1":
            limits["x-ratelimit-remaining-requests"] = "0"
            outcome = "quota"
        self.log.append((time.monotonic(), tag, outcome, path))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.hold_after is not None and self.total > self.hold_after:
                if self._gate is None:
                    self._gate = asyncio.Event()
                self.held += 1
                await self._gate.wait()
            await asyncio.sleep(self.latency + self._random.uniform(0, self.jitter))
            return await self._reply(outcome, writer, request, prompt, chat, key, headers,
                                     limits or {})
        finally:
            self.in_flight -= 1

    def _quota_headers(self) -> dict[str, str] | None:
        """This request's x-ratelimit-* headers under ``quota`` (remaining -1: over it)."""
        if self.quota is None:
            return None
        allowed, period = self.quota
        elapsed = time.monotonic() - self._started
        window = int(elapsed // period)
        if window != self._quota_window:
            self._quota_window, self._quota_used = window, 0
        self._quota_used += 1
        left = allowed - self._quota_used
        return {"x-ratelimit-limit-requests": str(allowed),
                "x-ratelimit-remaining-requests": str(max(left, -1)),
                "x-ratelimit-reset-requests": f"{period - elapsed % period:.3f}s"}

    def _draw(self) -> str:
        roll, edge = self._random.random(), 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if roll < edge:
                return fault
        return "ok"

    async def _reply(self, outcome: str, writer: asyncio.StreamWriter, request: dict[str, Any],
                     prompt: str, chat: bool, key: str, headers: dict[str, str],
                     limits: dict[str, str]) -> bool:
        if outcome == "drop":
            writer.transport.abort()
            return False
        if outcome == "timeout":
            await asyncio.sleep(self.hang)
            writer.transport.abort()
            return False
        if outcome in ("quota", "overload"):
            self.rejected[outcome] += 1
            await self._send(writer, 429, {"error": {"message": "Rate limit reached",
                                                     "type": "requests"}}, limits)
            return True
        if outcome == "429":
            extra = {"retry-after": f"{self.retry_after:g}"} if self.retry_after is not None \
                else {}
            await self._send(writer, 429, {"error": {"message": "Rate limit reached",
                                                     "type": "requests"}}, extra)
            return True
        if outcome == "401":
            said = headers.get("authorization", "").removeprefix("Bearer ")
            await self._send(writer, 401, {"error": {
                "message": f"Incorrect API key provided: {said}.", "type": "invalid_request"}})
            return True
        if outcome == "404":
            await self._send(writer, 404, {"error": {"message": "The model does not exist"}})
            return True
        if outcome in ("500", "503"):
            await self._send(writer, int(outcome), {"error": {"message": "server trouble",
                                                              "type": "server_error"}})
            return True
        if outcome == "malformed":
            await self._send(writer, 200, b'{"id": "x", "object": "chat.completion", "choi')
            return True
        text = "I would rather not say." if outcome == "unparseable" else self.reply(prompt)
        self.served[key] += 1
        await self._send(writer, 200, self._completion(request, prompt, text, chat), limits)
        return True

    def _completion(self, request: dict[str, Any], prompt: str, text: str,
                    chat: bool) -> bytes:
        k = int((request.get("top_logprobs") if chat else request.get("logprobs")) or 0)
        wanted = self.logprobs and bool(request.get("logprobs"))
        choice, written = _choice(text, chat, k if wanted else -1)
        usage = {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": written,
                 "total_tokens": max(1, len(prompt) // 4) + written}
        head = {"id": "cmpl-fault", "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": request.get("model", "?"),
                "usage": usage}
        # The reply's choice is built once per distinct text (the benchmark sends thousands).
        return (json.dumps(head)[:-1] + ', "choices": [' + choice + "]}").encode()


@functools.lru_cache(maxsize=256)
def _choice(text: str, chat: bool, k: int) -> tuple[str, int]:
    """A reply's choice as JSON, with top-``k`` logprobs (none for k < 0), and its tokens."""
    tokens = _TOKEN.findall(text)
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
    top = [_alternatives(t) for t in tokens]
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
        if k >= 0:
            choice["logprobs"] = {"content": [
                {"token": t, "logprob": alts[0][1], "bytes": list(t.encode()),
                 "top_logprobs": [{"token": a, "logprob": lp, "bytes": list(a.encode())}
                                  for a, lp in alts[:k]]}
                for t, alts in zip(tokens, top, strict=True)]}
    else:
        choice["text"] = text
        if k > 0:
            offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
            choice["logprobs"] = {"tokens": tokens,
                                  "token_logprobs": [alts[0][1] for alts in top],
                                  "top_logprobs": [dict(alts[:k]) for alts in top],
                                  "text_offset": offsets}
    return json.dumps(choice), len(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--rates", default="", help="faults drawn at random, e.g. "
                        "429=0.2,503=0.05,malformed=0.01")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rates = {k: float(v) for k, _, v in (part.partition("=") for part in
                                         args.rates.split(",") if part)}
    server = FaultServer(latency=args.latency, lifetime=args.lifetime, rates=rates,
                         retry_after=args.retry_after, seed=args.seed)
    with server:
        print(server.url, flush=True)
        server._stopped.wait(args.lifetime + 1)


if __name__ == "__main__":
    main()
