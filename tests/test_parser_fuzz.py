"""No reply can stop a run (issue 14): every parser returns Parsed or raises ParseFailure,
whatever the judge wrote, and the forms the original judges' code reads still read as it
reads them. ``token_probs.slot_probs`` returns None or distributions, whatever the tokens.

The parsers are called straight from ``PARSERS``, not through ``parse()``: ``parse()``
turns any exception into a ParseFailure, which would hide a parser that raises."""

from __future__ import annotations

import math
import os
import re
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from judgecli.backends.openai.token_probs import slot_probs
from judgecli.parsers import PARSERS, Parsed, ParseFailure, parse

CASES = int(os.environ.get("JUDGECLI_HYPOTHESIS_CASES", "4000")) // 4
FUZZ = settings(max_examples=CASES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VERDICTS = {"pandalm": {"A", "B", "tie"}, "mtbench-verdict": {"A", "B", "tie"},
            "final-verdict": {"A", "B", "tie"}, "pass-fail": {"pass", "fail"}}

# Pieces a judge's reply is made of, and the ones that broke the parsers: digits that are not
# ASCII (Arabic-Indic, full-width, mathematical, superscript), leading zeros, huge numbers,
# NaN and infinities, brackets, markers, separators and newlines.
UNICODE_DIGITS = ["٨", "８", "١٠", "𝟖", "²", "߈", "৮"]
PIECES = st.one_of(
    st.sampled_from(["[[", "]]", "[", "]", "[[A]]", "[[B]]", "[[C]]", "[[PASS]]", "[[FAIL]]",
                     "Rating: ", "Tie", "tie", "1", "2", " ", ",", ".", "\n", "\r\n", "\t",
                     "nan", "NaN", "inf", "-inf", "Infinity", "1e309", "08", "007", "00",
                     "10.", "8.5", "-3", "+4", "1_0", "0x10", *UNICODE_DIGITS]),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.integers(min_value=300, max_value=6000).map(lambda n: "9" * n),
    st.text(max_size=8))
REPLIES = st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=40).map("".join))


def check(name: str, text: str, count: int | None) -> None:
    """Only Parsed or ParseFailure, and a Parsed that holds what its format allows."""
    try:
        out = PARSERS[name](text, count)
    except ParseFailure:
        return
    assert isinstance(out, Parsed)
    if name in VERDICTS:
        assert out.verdict in VERDICTS[name] and out.scores is None
    else:
        assert out.scores is not None and all(math.isfinite(s) for s in out.scores)
        assert len(out.scores) == (count if name == "scores" else 1)


@FUZZ
@given(text=REPLIES, name=st.sampled_from(sorted(PARSERS)),
       count=st.integers(min_value=1, max_value=4))
@example(text="Rating: [[08]]", name="mtbench-rating", count=1)
@example(text="[[٨]]", name="mtbench-rating", count=1)
@example(text="[[８]]", name="final-rating", count=1)
@example(text="[[" + "9" * 400 + "]]", name="mtbench-rating", count=1)
@example(text="[" + "9" * 5000 + "]", name="mtbench-rating", count=1)
@example(text="Rating: [[" + "9" * 400 + ".5]]", name="final-rating", count=1)
@example(text="nan inf", name="scores", count=2)
@example(text="9" * 5000 + " 1", name="scores", count=2)
def test_every_parser_gives_parsed_or_parse_failure(text: str, name: str, count: int) -> None:
    check(name, text, count)


# -- the valid forms still read as the original code reads them --------------------------------
ASCII_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=6)
NUMBERS = st.one_of(
    ASCII_DIGITS,
    st.builds(lambda i, f: f"{i}.{f}", ASCII_DIGITS, st.text(alphabet="0123456789", max_size=4)),
    st.integers(min_value=300, max_value=5000).map(lambda n: "1" + "0" * n),
    st.integers(min_value=300, max_value=5000).map(lambda n: "1" + "0" * n + ".0"),
    st.integers(min_value=4301, max_value=6000).map(lambda n: "0" * n))
# Surrounding text that holds no other bracket, so the marker built is the only one.
PLAIN = st.text(alphabet=st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)),
                max_size=40)


def python_literal(written: str) -> float | None:
    """What FastChat's ``ast.literal_eval`` of a ``\\d+\\.?\\d*`` match gives, as a float,
    restated from Python's grammar (docs.python.org/3/reference/lexical_analysis.html,
    "Integer literals": a decimal integer has no leading zero unless it is all zeros;
    "Floating-point literals": any digits) and computed with Decimal; None where
    literal_eval raises or the value is no finite float."""
    if not written.isascii():
        return None  # "\d" matches other scripts' digits; Python literals are ASCII only
    if "." not in written and written[0] == "0" and written.strip("0"):
        return None
    value = float(Decimal(written))
    return value if math.isfinite(value) else None


@FUZZ
@given(number=NUMBERS, before=PLAIN, after=PLAIN, backup=st.booleans(), stray=PLAIN)
@example(number="08", before="", after="", backup=False, stray="")
@example(number="10.", before="", after="", backup=True, stray="")
@example(number="08.5", before="", after="", backup=False, stray="")
def test_mtbench_rating_reads_what_fastchat_reads(number: str, before: str, after: str,
                                                  backup: bool, stray: str) -> None:
    # FastChat: one_score_pattern first, then the "[rating]" backup; the first match counts.
    text = f"{before}Rating: [{number}]{after}" if backup else \
        f"{before}[{stray}7] Rating: [[{number}]]{after} [[3]]"
    want = python_literal(number)
    if want is None:
        with pytest.raises(ParseFailure):
            PARSERS["mtbench-rating"](text, None)
    else:
        assert PARSERS["mtbench-rating"](text, None) == Parsed(scores=(want,))


@FUZZ
@given(numbers=st.lists(NUMBERS, min_size=1, max_size=4), filler=PLAIN,
       digit=st.sampled_from(UNICODE_DIGITS), where=st.integers(min_value=0, max_value=6))
def test_final_rating_reads_the_last_marker(numbers: list[str], filler: str, digit: str,
                                            where: int) -> None:
    text = "".join(f"{filler}[[{n}]]" for n in numbers) + filler
    want = python_literal(numbers[-1])
    got = _outcome("final-rating", text)
    assert got == (Parsed(scores=(want,)) if want is not None else None)
    # The same last rating with a digit of another script in it: a failure, not a guess.
    last = numbers[-1]
    foreign = last[:where] + digit + last[where:]
    if re.fullmatch(r"\d+\.?\d*", foreign):
        assert _outcome("final-rating", text[:text.rfind("[[")] + f"[[{foreign}]]") is None


def _outcome(name: str, text: str, count: int | None = None) -> Parsed | None:
    try:
        return PARSERS[name](text, count)
    except ParseFailure:
        return None


SCORE = st.one_of(st.integers(min_value=0, max_value=10).map(str),
                  st.builds(lambda i, f: f"{i}.{f}", st.integers(0, 10), st.integers(0, 99)))


@FUZZ
@given(scores=st.lists(SCORE, min_size=1, max_size=4), sep=st.sampled_from([" ", ","]),
       lead=st.sampled_from(["", " ", "\n", "  \n"]), rest=st.text(max_size=60))
def test_judgelm_scores_read_the_first_line(scores: list[str], sep: str, lead: str,
                                            rest: str) -> None:
    text = lead + sep.join(scores) + "\n" + rest
    values = tuple(float(Decimal(s)) for s in scores)
    got = PARSERS["scores"](text, len(scores))
    assert got.scores == values
    if len(values) == 2:
        a, b = values
        assert got.verdict == ("A" if a > b else "B" if b > a else "tie")
    with pytest.raises(ParseFailure):
        PARSERS["scores"](text, len(scores) + 1)


@FUZZ
@given(text=st.lists(st.one_of(PLAIN, st.sampled_from(["[[A]]", "[[B]]", "[[C]]", "[[PASS]]",
                                                       "[[FAIL]]", "[[D]]", "[A]"])),
                     max_size=8).map("".join))
def test_verdict_markers(text: str) -> None:
    first = {m: text.find(m) for m in ("[[A]]", "[[B]]", "[[C]]")}
    last = {m: text.rfind(m) for m in ("[[A]]", "[[B]]", "[[C]]", "[[PASS]]", "[[FAIL]]")}
    letter = {"[[A]]": "A", "[[B]]": "B", "[[C]]": "tie", "[[PASS]]": "pass", "[[FAIL]]": "fail"}
    # FastChat checks A, then B, then C: the first present (not the first written) wins.
    fastchat = next((letter[m] for m in ("[[A]]", "[[B]]", "[[C]]") if first[m] != -1), None)
    final = max(("[[A]]", "[[B]]", "[[C]]"), key=lambda m: last[m])
    binary = max(("[[PASS]]", "[[FAIL]]"), key=lambda m: last[m])
    for name, want in (("mtbench-verdict", fastchat),
                       ("final-verdict", letter[final] if last[final] != -1 else None),
                       ("pass-fail", letter[binary] if last[binary] != -1 else None)):
        got = _outcome(name, text)
        assert (got.verdict if got else None) == want, name


@FUZZ
@given(first=st.sampled_from(["1", "2", "Tie", "tie", "TIE", "3", "1 ", "Response 1", "٢"]),
       lead=st.sampled_from(["", " ", "\n\n", "\t"]),
       rest=st.text(max_size=60).map(lambda r: "### Reason: " + r))
def test_pandalm_reads_the_first_line(first: str, lead: str, rest: str) -> None:
    text = lead + first + "\n" + rest
    want = {"1": "A", "2": "B", "tie": "tie"}.get(first.lower())
    got = _outcome("pandalm", text)
    assert (got.verdict if got else None) == want


def test_a_huge_unclosed_rating_is_read_in_linear_time() -> None:
    # FastChat's \d+\.?\d* backtracks quadratically here: ~15 s at 20,000 digits, over a
    # minute at 30,000; linear, this takes milliseconds.
    text = "Rating: [[" + "9" * 30_000 + "\n[" + "9" * 30_000
    started = time.monotonic()
    for name in ("mtbench-rating", "final-rating"):
        with pytest.raises(ParseFailure):
            PARSERS[name](text, None)
    # Milliseconds here; quadratic, over a minute: a bound no loaded machine reaches.
    assert time.monotonic() - started < 20.0


def test_parse_turns_any_parser_exception_into_a_parse_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, count: int | None) -> Parsed:
        raise ZeroDivisionError("division by\nzero")

    monkeypatch.setitem(PARSERS, "mtbench-rating", broken)
    with pytest.raises(ParseFailure, match=r"^the mtbench-rating parser failed on this reply: "
                                           r"ZeroDivisionError: division by zero$"):
        parse("mtbench-rating", "Rating: [[8]]")
    with pytest.raises(ValueError, match="unknown parser"):  # a template's bug, not a reply's
        parse("no-such-parser", "x")


# -- token log-probabilities --------------------------------------------------------------------
LOGPROBS = st.one_of(st.floats(max_value=0.0, allow_nan=False),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0.0, 1e-9, 800.0, 1000.0, -1000.0, math.inf, -math.inf,
                                      math.nan]))
TOKEN_TEXT = st.one_of(st.sampled_from(["[[", "]]", "Rating: [[", "7", "8", "1", "0", "10",
                                        " 9", "A", "B", "C", "T", "ie", "Tie", "PASS", "FA",
                                        "IL", "\n", " ", ",", "\u2581", "\u2581A", "٨"]),
                       st.text(max_size=4))
TOKENS = st.lists(st.tuples(TOKEN_TEXT, LOGPROBS,
                            st.lists(st.tuples(TOKEN_TEXT, LOGPROBS), max_size=5)),
                  min_size=1, max_size=12)
JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                 st.text(max_size=4)),
                       lambda inner: st.one_of(st.lists(inner, max_size=4),
                                               st.tuples(inner, inner, inner),
                                               st.dictionaries(st.text(max_size=3), inner,
                                                               max_size=3)),
                       max_leaves=12)
VALUES = st.one_of(st.just(()), st.just(tuple(str(n) for n in range(1, 11))),
                   st.just(("1", "2", "Tie")), st.lists(st.text(max_size=3), max_size=4))


def _check_distributions(out: tuple[dict[str, float], ...] | None,
                         allowed: set[str] | None = None) -> None:
    if out is None:
        return
    assert isinstance(out, tuple) and out
    for dist in out:
        assert isinstance(dist, dict) and dist
        assert allowed is None or set(dist) <= allowed
        assert all(math.isfinite(p) and 0.0 <= p <= 1.0 + 1e-9 for p in dist.values())
        assert math.isclose(sum(dist.values()), 1.0, rel_tol=1e-9)


@settings(FUZZ, max_examples=CASES // 2)
@given(tokens=st.one_of(TOKENS, st.lists(JSONISH, max_size=6)), joined=st.booleans(),
       other=st.text(max_size=40), parser=st.sampled_from([*sorted(PARSERS), None, "x"]),
       values=VALUES)
@example(tokens=[(5, 0.0, []), (None, "x", 3)], joined=False, other="[[A]]",
         parser="mtbench-verdict", values=())
def test_slot_probs_on_any_tokens(tokens: list, joined: bool, other: str, parser: str | None,
                                  values: tuple) -> None:
    # Text spelt by the tokens themselves gets past the alignment; other text mostly not.
    spelt = all(isinstance(t, tuple) and t and isinstance(t[0], str) for t in tokens)
    text = "".join(t[0] for t in tokens) if joined and spelt else other
    _check_distributions(slot_probs(tokens, text, parser, values))


# Replies in each format, with the values a template allows, so that the slots are read.
TEN = tuple(str(n) for n in range(1, 11))
FORMATS = {"final-rating": ("Fair. Rating: [[{}]]", TEN), "mtbench-verdict": ("So [[{}]]",
           ("A", "B", "C")), "final-verdict": ("[[A]] was said; mine: [[{}]]", ("A", "B", "C")),
           "pass-fail": ("It holds. [[{}]]", ("PASS", "FAIL")),
           "pandalm": ("{}\n\n### Reason: x", ("1", "2", "Tie")),
           "scores": ("{} 7\nThe first is better.", TEN)}


@st.composite
def judgments(draw: st.DrawFn) -> tuple[list, str, str, tuple[str, ...]]:
    parser = draw(st.sampled_from(sorted(FORMATS)))
    form, allowed = FORMATS[parser]
    text = form.format(draw(st.sampled_from(allowed)))
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=len(text) // 2)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    alternative = st.tuples(st.one_of(st.sampled_from(allowed), TOKEN_TEXT), LOGPROBS)
    tokens = [(piece, draw(LOGPROBS), draw(st.lists(alternative, max_size=5)))
              for piece in pieces]
    return tokens, text, parser, allowed


@settings(FUZZ, max_examples=CASES // 2)
@given(case=judgments())
@example(case=([("Fair. Rating: [[", 0.0, []), ("7", 0.0, [("7", 0.0), ("8", 1000.0)]),
                ("]]", 0.0, [])], "Fair. Rating: [[7]]", "final-rating", TEN))
def test_slot_probs_on_judgments(case: tuple[list, str, str, tuple[str, ...]]) -> None:
    tokens, text, parser, allowed = case
    _check_distributions(slot_probs(tokens, text, parser, allowed), set(allowed))


def test_a_log_probability_above_zero_counts_as_certain() -> None:
    # exp(1000) raised OverflowError before; a positive log-probability is read as 0 (p = 1).
    tokens = [("Rating: [[", 0.0, []), ("7", math.log(0.5), [("7", math.log(0.5)),
                                                             ("8", 1000.0)]), ("]]", 0.0, [])]
    out = slot_probs(tokens, "Rating: [[7]]", "final-rating", TEN)
    assert out is not None
    assert out[0]["8"] == pytest.approx(2 / 3) and out[0]["7"] == pytest.approx(1 / 3)
    tokens[1] = ("7", math.log(0.5), [("8", math.nan)])
    assert slot_probs(tokens, "Rating: [[7]]", "final-rating", TEN) is None
