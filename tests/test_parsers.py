from __future__ import annotations

import pytest

from judgecli.parsers import ParseFailure, Parsed, parse


@pytest.mark.parametrize("text,expected", [
    ("9 3", Parsed((9.0, 3.0), "A")),
    ("3 9\nAssistant 2 is better.", Parsed((3.0, 9.0), "B")),
    ("  7 7\n", Parsed((7.0, 7.0), "tie")),
    ("8,6\nexplanation", Parsed((8.0, 6.0), "A")),  # JudgeLM turns commas into spaces
    ("10 9.5", Parsed((10.0, 9.5), "A")),
])
def test_judgelm_scores(text: str, expected: Parsed) -> None:
    assert parse("scores", text, 2) == expected


@pytest.mark.parametrize("text", [
    "", "9", "9 3 1", "nine three", "9  3", "9, 3", "Assistant 1: 9\n3", "nan 3", "[[A]]",
])
def test_judgelm_scores_failures(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse("scores", text, 2)


def test_scores_counts() -> None:
    assert parse("scores", "7\nbecause", 1) == Parsed((7.0,), None)
    assert parse("scores", "1 2 3", 3).scores == (1.0, 2.0, 3.0)
    with pytest.raises(ParseFailure):
        parse("scores", "1 2", 3)


@pytest.mark.parametrize("text,verdict", [
    ("1\n\n### Reason: ...", "A"), ("2", "B"), ("Tie\n", "tie"), ("tie", "tie"),
    ("\n 1\nfoo", "A"),
])
def test_pandalm(text: str, verdict: str) -> None:
    assert parse("pandalm", text).verdict == verdict


# "1  " keeps its trailing spaces after PandaLM's strip().split("\n"), so it is not "1".
@pytest.mark.parametrize("text", ["", "3", "Response 1", "1 is better", "garbage", "1  \nx"])
def test_pandalm_failures_are_not_ties(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse("pandalm", text)


@pytest.mark.parametrize("text,verdict", [
    ("... so [[A]]", "A"), ("[[B]]", "B"), ("a tie: [[C]]", "tie"),
    ("[[B]] but then [[A]]", "A"),  # FastChat checks A first
])
def test_mtbench_verdict(text: str, verdict: str) -> None:
    assert parse("mtbench-verdict", text).verdict == verdict


@pytest.mark.parametrize("text", ["A is better", "[A]", "[[D]]", ""])
def test_mtbench_verdict_failures(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse("mtbench-verdict", text)


@pytest.mark.parametrize("text,score", [
    ("Rating: [[5]]", 5.0), ("[[7.5]] and [[2]]", 7.5), ("Rating: [8]", 8.0),
])
def test_mtbench_rating(text: str, score: float) -> None:
    assert parse("mtbench-rating", text).scores == (score,)


@pytest.mark.parametrize("text", ["Rating: 5", "[[five]]", ""])
def test_mtbench_rating_failures(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse("mtbench-rating", text)
