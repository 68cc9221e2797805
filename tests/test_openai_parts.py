"""The API judge's pure parts: token probabilities, prices and the cost cap, pacing, backoff."""

from __future__ import annotations

import math
import random

import pytest

from judgecli.backends.openai.token_probs import slot_probs
from judgecli.judging.confidence import verdict_probs
from judgecli.errors import BudgetExhausted, JudgecliError
from judgecli.backends.openai.pricing import CostMeter, Estimate, Price, estimate_tokens, lookup, resolve_price
from judgecli.backends.openai.ratelimit import Pace, backoff, retry_after
from judgecli.templates import Prompt

SCORES = tuple(str(v) for v in range(1, 11))
LN = math.log


def tok(text: str, p: float, *alts: tuple[str, float]) -> tuple[str, float, list]:
    return (text, LN(p), [(text, LN(p)), *((a, LN(q)) for a, q in alts)])


# -- token probabilities -----------------------------------------------------------------------
def test_single_token_scores_as_gpt_tokenizers_write_them() -> None:
    # cl100k/o200k: "8 3\n" is "8", " ", "3", "\n"; numbers up to 999 are one token.
    tokens = [tok("8", 0.6, ("7", 0.3), ("The", 0.1)), tok(" ", 1.0), tok("3", 0.5, ("10", 0.5)),
              tok("\n", 1.0), tok("Good", 1.0)]
    dists = slot_probs(tokens, "8 3\nGood", "scores", SCORES)
    assert dists is not None
    assert dists[0]["8"] == pytest.approx(2 / 3) and dists[0]["7"] == pytest.approx(1 / 3)
    assert dists[1]["3"] == pytest.approx(0.5) and dists[1]["10"] == pytest.approx(0.5)
    assert sum(dists[0].values()) == pytest.approx(1.0)
    assert verdict_probs(dists, "scores") == pytest.approx({"A": 0.5, "B": 0.5, "tie": 0.0})


def test_a_value_split_over_tokens_is_followed() -> None:
    # Llama splits digits: "10 9" is "1", "0", " ", "9". At "1", the alternative "9" is a
    # value; after "1", "0" makes 10 and " " would have made 1.
    tokens = [tok("1", 0.8, ("9", 0.2)), tok("0", 0.75, (" ", 0.25)), tok(" ", 1.0),
              tok("9", 1.0)]
    dists = slot_probs(tokens, "10 9", "scores", SCORES)
    assert dists is not None
    assert dists[0]["10"] == pytest.approx(0.6)
    assert dists[0]["1"] == pytest.approx(0.2)
    assert dists[0]["9"] == pytest.approx(0.2)


def test_leading_space_tokens_and_sentencepiece_spaces() -> None:
    tokens = [tok("▁7", 0.9, ("▁6", 0.1)), tok("▁2", 1.0)]
    dists = slot_probs(tokens, " 7 2", "scores", SCORES)
    assert dists is not None and dists[0]["7"] == pytest.approx(0.9)


def test_mtbench_verdict_letter_after_the_brackets() -> None:
    text = "A is more helpful. [[A]]"
    tokens = [tok("A", 1.0), tok(" is", 1.0), tok(" more", 1.0), tok(" helpful", 1.0),
              tok(".", 1.0), tok(" [[", 1.0), tok("A", 0.7, ("B", 0.2), ("C", 0.1)),
              tok("]]", 1.0)]
    dists = slot_probs(tokens, text, "mtbench-verdict", ())
    assert dists == (pytest.approx({"A": 0.7, "B": 0.2, "C": 0.1}),)
    assert verdict_probs(dists, "mtbench-verdict") == pytest.approx(
        {"A": 0.7, "B": 0.2, "tie": 0.1})
    # The letter and the brackets in one token: alternatives are read the same way.
    merged = [tok("[[A", 0.6, ("[[C", 0.4)), tok("]]", 1.0)]
    assert slot_probs(merged, "[[A]]", "mtbench-verdict", ())[0]["C"] == pytest.approx(0.4)


def test_pandalm_tie_in_two_tokens() -> None:
    tokens = [tok("T", 0.5, ("1", 0.3), ("2", 0.2)), tok("ie", 1.0), tok("\n", 1.0)]
    dists = slot_probs(tokens, "Tie\n", "pandalm", ("1", "2", "Tie"))
    assert dists == (pytest.approx({"1": 0.3, "2": 0.2, "Tie": 0.5}),)


@pytest.mark.parametrize("tokens,text,parser", [
    ([tok("8", 1.0), tok(".5", 1.0), tok(" 3", 1.0)], "8.5 3", "scores"),  # not a value
    ([tok("8", 1.0), tok(" 3", 1.0)], "9 3", "scores"),  # tokens do not spell the text
    ([tok("No", 1.0), tok(" verdict", 1.0)], "No verdict", "mtbench-verdict"),
    ([tok("8", 1.0)], "8", None),
    ([], "8 3", "scores"),
])
def test_no_distribution_when_it_cannot_be_read(tokens: list, text: str,
                                                parser: str | None) -> None:
    assert slot_probs(tokens, text, parser, SCORES) is None


# -- prices and the cap ------------------------------------------------------------------------
def test_price_table_and_overrides() -> None:
    assert lookup("gpt-4o") == (2.50, 10.00)
    assert lookup("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert lookup("gpt-4o-2024-05-13") == (5.00, 15.00)
    assert lookup("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert lookup("gpt-4-0613") == (30.00, 60.00)
    assert lookup("gpt-4-1106-preview") == (10.00, 30.00)
    assert lookup("llama3:8b") is None
    assert resolve_price("llama3:8b") is None
    assert resolve_price("gpt-4o", price_out=20) == Price(2.50, 20)
    assert resolve_price("local", 1, 2) == Price(1, 2)
    with pytest.raises(JudgecliError, match="both --price-in and --price-out"):
        resolve_price("local", price_in=1)
    assert Price(2.5, 10).cost(1_000_000, 100_000) == pytest.approx(3.5)


def test_cost_meter_never_books_past_the_cap() -> None:
    meter = CostMeter(Price(1000, 1000), max_cost=1.0)  # $0.001 a token
    bound = meter.bound(prompt_bytes=100, messages=1, max_tokens=200)
    assert bound == pytest.approx((100 + 16 + 200) / 1000)
    meter.reserve(bound)
    meter.reserve(bound)
    meter.reserve(bound)  # 0.948 booked
    with pytest.raises(BudgetExhausted, match="--max-cost"):
        meter.reserve(bound)
    meter.settle(30, 10)
    meter.unbook(bound)
    assert meter.spent == pytest.approx(0.04) and meter.booked == pytest.approx(2 * bound)
    meter.unbook(bound)
    meter.unbook(bound)
    assert meter.open == 0 and meter.booked == 0
    meter.reserve(bound)  # room again once the others came back
    assert "cost $0.0400" in meter.report() and "30 prompt + 10 completion" in meter.report()
    with pytest.raises(JudgecliError, match="needs the model's price"):
        CostMeter(None, max_cost=1)
    assert "cost unknown" in CostMeter(None).report()


def test_dry_run_estimate() -> None:
    estimate = Estimate("gpt-4o", 100)
    estimate.add(Prompt(text="x" * 400))
    estimate.add(Prompt(messages=({"role": "system", "content": "y" * 40},
                                  {"role": "user", "content": "z" * 360})))
    assert estimate.prompt_tokens == 2 * 100 + 4 + 8 == estimate_tokens("x" * 800, 3)
    report = estimate.report()
    assert "2 request(s)" in report and "~212 prompt tokens" in report
    assert "at most 200 completion tokens" in report and "cost ~$0.0005" in report
    assert "cost unknown" in Estimate("mystery", 10).report()


# -- pacing and backing off --------------------------------------------------------------------
def test_pace_spaces_uses_after_a_burst() -> None:
    pace = Pace(per_minute=600, burst=1.0)  # 10 a second
    waits = [pace.book(1, now=100.0) for _ in range(30)]
    assert waits[:11] == [0.0] * 11  # a second's worth at once
    assert waits[11:] == pytest.approx([0.1 * i for i in range(1, 20)])
    tokens = Pace(per_minute=6000, burst=0.0)  # 100 tokens a second
    assert tokens.book(500, now=0.0) == 0.0 and tokens.book(500, now=0.0) == pytest.approx(5)


def test_backoff_is_full_jitter_under_a_cap() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        delay = backoff(attempt, base=0.5, cap=8, rng=rng)
        assert 0.0 <= delay <= min(8, 0.5 * 2 ** attempt)


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after": "1.5", "retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"},
                       now=1445412480.0) == pytest.approx(10)
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None
    assert retry_after({"retry-after": "-3"}) == 0.0
