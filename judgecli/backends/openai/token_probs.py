"""From an API's reply and its token log-probabilities to the score line's distributions.

An API judge writes its whole judgment (explain mode); where the server returns
``top_logprobs`` we read, at the token where each score or verdict value was written, the
probabilities of the alternatives that are values the template allows, renormalised over
those values. This is what AlpacaEval's weighted annotators do (tatsu-lab/alpaca_eval,
``src/alpaca_eval/completion_parsers.py`` ``logprob_parser`` with ``is_binarize: false``, used
by ``evaluators_configs/weighted_alpaca_eval_gpt4_turbo/configs.yaml``: ``logprobs: true,
top_logprobs: 5``; a value missing from the top alternatives counts as probability 0).

Beyond AlpacaEval, which reads one token, a value written in several tokens (a tokenizer
that splits "10" into "1" "0", or "Tie" into "T" "ie") is followed token by token, as the
local backend's restricted decoding does: an alternative that completes another value counts
for it, and one that only begins values is split evenly among them. Positions come from the
text the parser reads, so the values are those the parser took, never ones in the prompt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ...parsers import ParseFailure
from ...parsers import specs as parser_specs

# (chosen token, its log-probability, [(alternative, log-probability), ...])
Token = tuple[str, float, Sequence[tuple[str, float]]]

VERDICT_LETTERS = ("A", "B", "C")


def slot_probs(tokens: Sequence[Token], text: str, parser: str | None,
               values: Sequence[str]) -> tuple[dict[str, float], ...] | None:
    """Per slot of the judgment the parser reads, value -> probability; None if unknown.

    Never raises on what a server sent but ParseFailure: tokens that are not (text,
    log-probability, alternatives) as ``read_reply`` builds them give None (a cached reply is
    read again on every --resume, so one odd reply must not stop a run); a parser that reads
    the top logprobs (``tokens: top``, AlpacaEval) raises ParseFailure where they give no
    value a probability, the reply's verdict then failing with that reason."""
    if not tokens or parser is None:
        return None
    if parser_specs.is_data(parser) and parser_specs.decode(parser).top:
        first = tokens[0]
        if not isinstance(first, (tuple, list)) or len(first) != 3 or \
                not isinstance(first[2], (tuple, list)) or not all(
                isinstance(a, (tuple, list)) and len(a) == 2 and isinstance(a[0], str)
                and isinstance(a[1], (int, float)) for a in first[2]):
            return None
        return (top_reading(first[2], parser_specs.decode(parser).values),)
    if not _well_formed(tokens):
        return None
    spans = _align(tokens, text)
    slots = _slots(text, parser, values)
    if spans is None or not slots:
        return None
    fold = parser == "pandalm"  # PandaLM's parser takes "Tie" in any case
    exact = parser_specs.is_data(parser) and parser_specs.decode(parser).exact
    out = []
    for start, written, allowed in slots:
        dist = _exact(tokens, spans, start, written, allowed) if exact else \
            _slot(tokens, spans, start, written, allowed, fold)
        if dist is None:
            return None
        out.append(dist)
    return tuple(out)


def _well_formed(tokens: Sequence[Token]) -> bool:
    try:
        return all(isinstance(chosen, str) and _real(logprob) and
                   all(isinstance(alt, str) and _real(lp) for alt, lp in alternatives)
                   for chosen, logprob, alternatives in tokens)
    except (TypeError, ValueError):  # not triples, or alternatives that are not pairs
        return False


def _real(x: object) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x)


_MARKER = re.compile(r"\[\[([^\[\]]+)\]\]")


def _slots(text: str, parser: str, values: Sequence[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """(offset in text, value written, values allowed) of each slot the parser reads."""
    if parser_specs.is_data(parser):
        # A parser declared as data: the value its pattern reads, where it has a closed set.
        spec = parser_specs.decode(parser)
        found = spec.find(text)
        if found is None or found[1] not in spec.values:
            return []
        return [(found[0], found[1], spec.values)]
    if parser == "mtbench-verdict":
        # FastChat checks [[A]], then [[B]], then [[C]]: the first present is the verdict.
        for letter in VERDICT_LETTERS:
            at = text.find(f"[[{letter}]]")
            if at != -1:
                return [(at + 2, letter, VERDICT_LETTERS)]
        return []
    if parser in ("final-verdict", "pass-fail", "final-rating"):
        # judgecli's own templates: the last marker is the verdict (parsers.py).
        if parser == "final-verdict":
            allowed: tuple[str, ...] = VERDICT_LETTERS
        elif parser == "pass-fail":
            allowed = ("PASS", "FAIL")
        else:
            allowed = tuple(values) or tuple(str(n) for n in range(1, 11))
        found = [(m.start(1), m.group(1)) for m in _MARKER.finditer(text)]
        if not found or found[-1][1] not in allowed:
            return []  # e.g. a rating of 7.5 the template does not list: no distribution
        at, written = found[-1]
        return [(at, written, allowed)]
    if parser not in ("scores", "pandalm") or not values:
        return []
    lead = len(text) - len(text.lstrip())
    line = text.strip().split("\n")[0]
    if parser == "pandalm":
        match = [v for v in values if v.lower() == line.lower()]
        return [(lead, match[0], tuple(values))] if match else []
    slots, offset = [], lead
    for part in line.replace(",", " ").split(" "):
        if part not in values:
            return []  # a score the template does not allow (8.5): no distribution
        slots.append((offset, part, tuple(values)))
        offset += len(part) + 1
    return slots


def _align(tokens: Sequence[Token], text: str) -> list[tuple[int, str]] | None:
    """Where each token's text lies in ``text``. Servers differ in how they spell tokens
    (a leading space dropped, SentencePiece's U+2581 for a space), so whitespace may be
    skipped; a token that is not found in order means the two do not match: None."""
    spans, pos = [], 0
    for chosen, _, _ in tokens:
        piece = chosen.replace("\u2581", " ")
        if text.startswith(piece, pos):
            spans.append((pos, piece))
            pos += len(piece)
            continue
        core = piece.strip()
        skip = pos
        while skip < len(text) and text[skip].isspace():
            skip += 1
        if not core:
            spans.append((pos, text[pos:skip]))
            pos = skip
        elif text.startswith(core, skip):
            spans.append((skip, core))
            pos = skip + len(core)
        else:
            return None
    return spans


def _complete(r: str, allowed: tuple[str, ...], fold: bool) -> str | None:
    """The value ``r`` spells out in full (the longest), followed by nothing or a non-word
    character (a separator, a newline, "]]")."""
    best = None
    for value in allowed:
        head, key = (r[:len(value)].lower(), value.lower()) if fold else (r[:len(value)], value)
        rest = r[len(value):]
        if head == key and (not rest or not rest[0].isalnum()):
            if best is None or len(value) > len(best):
                best = value
    return best


def _opens(r: str, allowed: tuple[str, ...], fold: bool) -> list[str]:
    """The values that ``r`` begins without completing."""
    if fold:
        return [v for v in allowed if v.lower().startswith(r.lower()) and len(v) > len(r)]
    return [v for v in allowed if v.startswith(r) and len(v) > len(r)]


def _slot(tokens: Sequence[Token], spans: list[tuple[int, str]], start: int, written: str,
          allowed: tuple[str, ...], fold: bool) -> dict[str, float] | None:
    index = next((i for i, (s, piece) in enumerate(spans) if s <= start < s + len(piece)),
                 None)
    if index is None:
        return None
    s, piece = spans[index]
    lead = piece[:start - s].lstrip()
    prefix, mass = "", 1.0
    dist: dict[str, float] = dict.fromkeys(allowed, 0.0)
    while index < len(tokens):
        chosen, chosen_lp, alternatives = tokens[index]
        options = dict(alternatives)
        options.setdefault(chosen, chosen_lp)
        step_chosen = None
        for alt, logprob in options.items():
            alt_text = alt.replace("\u2581", " ").lstrip()
            if not alt_text.startswith(lead):
                continue  # framed differently from what the judge wrote: not this format
            r = prefix + alt_text[len(lead):]
            # A log-probability above 0 is the server's rounding (or nonsense): at most 1,
            # and never exp(1000)'s OverflowError.
            p = mass * math.exp(min(logprob, 0.0))
            if alt == chosen:
                step_chosen = (r, p)
                continue
            value = _complete(r, allowed, fold)
            if value is not None:
                dist[value] += p
            elif opened := _opens(r, allowed, fold):
                for value in opened:
                    dist[value] += p / len(opened)
        if step_chosen is None:
            return None
        r, p = step_chosen
        so_far, whole = (r.lower(), written.lower()) if fold else (r, written)
        if len(so_far) < len(whole) and whole.startswith(so_far):
            prefix, mass, lead, index = r, p, "", index + 1  # the value goes on: follow it
            continue
        if _complete(r, allowed, fold) != written:
            return None  # the tokens do not spell what the parser read
        dist[written] += p
        break
    else:
        return None
    total = sum(dist.values())
    if total <= 0:
        return None
    return {value: p / total for value, p in dist.items()}


def _exact(tokens: Sequence[Token], spans: list[tuple[int, str]], start: int, written: str,
           allowed: tuple[str, ...]) -> dict[str, float] | None:
    """AlpacaEval's reading (``logprob_parser``): the one token written at the value must be
    exactly a value; each value's probability is that of the alternative that is exactly it
    (0 when absent), renormalised over the values."""
    index = next((i for i, (s, _) in enumerate(spans) if s == start), None)
    if index is None or tokens[index][0] != written:
        return None
    chosen, chosen_lp, alternatives = tokens[index]
    options = dict(alternatives)
    options.setdefault(chosen, chosen_lp)
    dist = {v: math.exp(min(options[v], 0.0)) if v in options else 0.0 for v in allowed}
    total = sum(dist.values())
    return {v: p / total for v, p in dist.items()} if total > 0 else None


def top_reading(alternatives: Sequence[tuple[str, float]], values: Sequence[str],
                ) -> dict[str, float]:
    """AlpacaEval's reading of one token's top logprobs (tatsu-lab/alpaca_eval 0.6.6,
    ``src/alpaca_eval/completion_parsers.py`` ``logprob_parser``, ``is_binarize: false``):
    only the alternatives whose text is exactly a value count (the token sampled counts only
    if it is among them; a value listed twice keeps its last log-probability); a value absent
    has probability 0; each value's probability is exp(its logprob - logsumexp of the
    values'), computed in log space, so that logprobs as small as -745 (where exp() is 0 or
    subnormal) or above 0 still give the ratio. Where no value is among them, or the ratio is
    not a number, AlpacaEval's preference is NaN: here a ParseFailure naming why."""
    found = {alt: float(lp) for alt, lp in alternatives if alt in values}
    if not found:
        shown = ", ".join(f"{alt!r} {lp:.3g}" for alt, lp in list(alternatives)[:5])
        raise ParseFailure(
            f"no {' or '.join(values)} among the top logprobs of the reply's first token "
            f"({shown or 'none given'}): AlpacaEval's logprob_parser gives no preference "
            "(NaN)")
    top = max(found.values())
    if not all(math.isfinite(lp) or lp == -math.inf for lp in found.values()) or \
            top == -math.inf:
        raise ParseFailure(f"the top logprobs of {' and '.join(found)} are not numbers that "
                           "give a probability: AlpacaEval's logprob_parser gives no "
                           "preference (NaN)")
    # logsumexp: the largest plus log(sum(exp(lp - largest))), exact for any finite logprob.
    total = top + math.log(sum(math.exp(lp - top) for lp in found.values()))
    return {v: math.exp(found[v] - total) if v in found else 0.0 for v in values}


def read_reply(data: dict[str, Any], *, chat: bool) -> dict[str, Any]:
    """The parts of an OpenAI-style reply we keep (and cache): text, finish reason, usage,
    and the tokens written as ``Token`` tuples (None without logprobs). A reply without
    them raises KeyError, IndexError or TypeError."""
    choice = data["choices"][0]
    if chat:
        # A refusal comes with no content: its words are what the parser then sees.
        message = choice["message"]
        text = message["content"] if message.get("content") is not None else \
            message.get("refusal") or ""
    else:
        text = choice["text"]
    if not isinstance(text, str):
        raise TypeError("no text")
    tokens = None
    logprobs = choice.get("logprobs")
    if logprobs and chat and logprobs.get("content"):
        tokens = [(t["token"], float(t["logprob"]),
                   [(a["token"], float(a["logprob"])) for a in t.get("top_logprobs") or ()])
                  for t in logprobs["content"]]
    elif logprobs and not chat and logprobs.get("tokens"):
        tops = logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"])
        tokens = [(t, float(lp if lp is not None else 0.0),
                   [(a, float(b)) for a, b in (top or {}).items()])
                  for t, lp, top in zip(logprobs["tokens"], logprobs["token_logprobs"], tops,
                                        strict=True)]
    usage = data.get("usage") or {}
    return {"text": text, "tokens": tokens, "finish_reason": choice.get("finish_reason"),
            "usage": {k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens")
                      if isinstance(usage.get(k), int)}}
