from __future__ import annotations

import pytest

from judgecli.judging.confidence import line_prob, verdict_probs
from judgecli.judging.debias import OrderResult, combine, map_back
from judgecli.parsers import Parsed


def test_map_back_swaps_scores_and_verdict() -> None:
    r = map_back("BA", Parsed((9.0, 3.0), "A"), "9 3", {"A": 0.7, "B": 0.2, "tie": 0.1})
    assert (r.score_a, r.score_b, r.verdict) == (3.0, 9.0, "B")
    assert r.probs == {"B": 0.7, "A": 0.2, "tie": 0.1}
    same = map_back("AB", Parsed((9.0, 3.0), "A"), "9 3", None)
    assert (same.score_a, same.score_b, same.verdict) == (9.0, 3.0, "A")


def order(o: str, a: float | None, b: float | None, v: str, probs=None) -> OrderResult:
    return OrderResult(order=o, text="", score_a=a, score_b=b, verdict=v, probs=probs)


@pytest.mark.parametrize("first,second,strict,average", [
    (("A", 9, 3), ("A", 8, 4), "A", "A"),
    (("A", 9, 3), ("B", 4, 5), "tie", "A"),   # average: a = 6.5, b = 4
    (("A", 6, 5), ("B", 2, 9), "tie", "B"),   # average: a = 4, b = 7
    (("tie", 5, 5), ("tie", 5, 5), "tie", "tie"),
    (("A", 7, 6), ("tie", 6, 6), "tie", "A"),
])
def test_combine_rules(first, second, strict, average) -> None:
    results = [order("AB", first[1], first[2], first[0]),
               order("BA", second[1], second[2], second[0])]
    s = combine(results, "strict")
    assert s.verdict == strict
    assert s.consistent == (first[0] == second[0])
    assert combine(results, "average").verdict == average


def test_average_without_scores_uses_verdict_points() -> None:
    def r(o: str, v: str) -> OrderResult:
        return order(o, None, None, v)

    assert combine([r("AB", "A"), r("BA", "tie")], "average").verdict == "A"
    assert combine([r("AB", "A"), r("BA", "B")], "average").verdict == "tie"
    assert combine([r("AB", "B"), r("BA", "B")], "average").verdict == "B"


def test_one_failed_order_fails_the_item() -> None:
    bad = OrderResult(order="BA", text="??", error="unparseable: x")
    out = combine([order("AB", 9, 3, "A"), bad], "strict")
    assert out.verdict is None and out.error == "BA: unparseable: x"


def test_confidence_of_combined_verdicts() -> None:
    p1 = {"A": 0.8, "B": 0.1, "tie": 0.1}
    p2 = {"A": 0.6, "B": 0.3, "tie": 0.1}
    results = [order("AB", 9, 3, "A", p1), order("BA", 8, 4, "A", p2)]
    # Both rules: P(verdict) averaged over the orders, (0.8 + 0.6) / 2.
    assert combine(results, "strict").confidence == pytest.approx(0.7)
    assert combine(results, "average").confidence == pytest.approx(0.7)
    split = [order("AB", 9, 3, "A", p1), order("BA", 4, 8, "B", {"A": 0.3, "B": 0.6, "tie": 0.1})]
    assert combine(split, "strict").confidence == pytest.approx(0.1)  # P(tie) in each order
    # average: scores a = 6.5, b = 5.5 give A, whose mean probability is (0.8 + 0.3) / 2.
    assert combine(split, "average").verdict == "A"
    assert combine(split, "average").confidence == pytest.approx(0.55)
    only = combine([order("AB", 9, 3, "A", p1)])
    assert (only.verdict, only.confidence) == ("A", 0.8)
    no_probs = combine([order("AB", 9, 3, "A", p1), order("BA", 8, 4, "A")])
    assert no_probs.confidence is None  # one order without probabilities: unknown, not 0.4


def test_strict_tie_from_opposite_confident_orders_is_unsure() -> None:
    """A position-biased judge says "first answer" with 0.9 in both orders: A, then B once
    mapped back. Its tie probability was at most 0.1 in each order; the old strict
    confidence (the chance the rule outputs a tie) said 1 - 0.9*0.1 - 0.1*0.9 = 0.82."""
    ab = {"A": 0.9, "B": 0.08, "tie": 0.02}  # as presented = as original in AB
    ba_presented = {"A": 0.9, "B": 0.05, "tie": 0.05}
    results = [map_back("AB", Parsed(scores=(9.0, 3.0), verdict="A"), "9 3", ab),
               map_back("BA", Parsed(scores=(9.0, 3.0), verdict="A"), "9 3", ba_presented)]
    assert [r.verdict for r in results] == ["A", "B"]
    out = combine(results, "strict")
    assert (out.verdict, out.consistent) == ("tie", False)
    expected = (ab["tie"] + ba_presented["tie"]) / 2  # tie keeps its name through the swap
    assert out.confidence == pytest.approx(expected)  # 0.035
    old = 1 - ab["A"] * ba_presented["B"] - ab["B"] * ba_presented["A"]
    assert out.confidence < 0.1 < 0.8 < old


def test_verdict_probs_from_score_distributions() -> None:
    probs = verdict_probs(({"9": 0.5, "3": 0.5}, {"5": 1.0}), "scores")
    assert probs == {"A": 0.5, "B": 0.5, "tie": 0.0}
    probs = verdict_probs(({"10": 0.25, "7": 0.75}, {"7": 0.5, "8": 0.5}), "scores")
    assert probs == pytest.approx({"A": 0.25 + 0.0, "B": 0.375, "tie": 0.375})
    assert verdict_probs(({"1": 0.2, "2": 0.3, "Tie": 0.5},), "pandalm") == \
        {"A": 0.2, "B": 0.3, "tie": 0.5}
    assert verdict_probs(None, "scores") is None
    assert line_prob(({"7": 0.5, "8": 0.5},), ["7"]) == 0.5
