"""Second-level review: the tiny local judge judges first, a loopback API judge reviews."""

from __future__ import annotations

import re

import pytest

from conftest import read_jsonl, run_cli as cli, write_jsonl
from test_panel import marked_items


def recording(reply):
    """Wrap a fault-server reply function, keeping every prompt it answered."""
    prompts: list[str] = []

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return reply(prompt)
    return answer, prompts


def test_a_reviewer_sees_each_orders_verdict_and_overturns_the_wrong_ones(
        tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    from fault_server import FaultServer, judge_reply

    items = marked_items(9)
    src = write_jsonl(tmp_path / "items.jsonl", items)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    reply, prompts = recording(judge_reply)
    out = tmp_path / "reviewed.jsonl"
    with FaultServer(reply=reply) as server:
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "--mode", "score", "--review-judge", "openai:gpt-4o",
                           "--base-url", server.url, "--no-cache", "-o", str(out), "-q")
    assert code == 0, err
    records = read_jsonl(out)
    assert len(records) == 9 and len(prompts) == 9 * 2
    for record in records:
        judgment, review = record["judgment"], record["judgment"]["review"]
        assert judgment["judge"] != review["judge"] == "openai:gpt-4o"
        assert review["template"] == "review-pair"
        # The loopback reviewer knows the right answer in either order.
        assert review["verdict"] == record["label"] and review["error"] is None
        assert review["first_verdict"] == judgment["verdict"]
        assert review["changed"] == (judgment["verdict"] != record["label"])
    # The run's summary line counts the verdicts the records end with: the reviewer's.
    from collections import Counter

    final = Counter(r["judgment"]["review"]["verdict"] for r in records)
    line = next(x for x in err.splitlines() if x.startswith("judged 9; "))
    assert line.startswith("judged 9; " + ", ".join(f"{k} {v}" for k, v in sorted(final.items())))
    # What the reviewer was shown: the first judge's own text and verdict of that order,
    # the verdict written as the reviewer writes one, in the positions shown.
    by_question = {r["question"]: r for r in records}
    flip = {"A": "B", "B": "A", "tie": "tie"}
    marker = {"A": "[[A]]", "B": "[[B]]", "tie": "[[C]]"}
    for prompt in prompts:
        record = by_question[re.search(r"(Question \d+\?)", prompt).group(1)]
        good_first = prompt.find("GOOD") < prompt.find("BAD")
        shown_ab = good_first == (record["label"] == "A")
        order = record["judgment"]["orders"][0 if shown_ab else 1]
        assert order["order"] == ("AB" if shown_ab else "BA")
        assert order["text"].strip() in prompt
        verdict = order["verdict"] if shown_ab else flip[order["verdict"]]
        assert marker[verdict] in prompt.split("[[C]]\" for a tie.")[-1]


def test_review_of_binary_judgments_and_the_first_judge_explains_by_default(
        tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    items = [{"id": i, "question": f"Request {i}", "answer": ("unsafe " if i % 2 else "") +
              f"reply {i}", "label": "fail" if i % 2 else "pass"} for i in range(6)]
    src = write_jsonl(tmp_path / "items.jsonl", items)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    def reviewer(prompt: str) -> str:
        # A reviewer that reads the answer; it also confirms the first judge says something.
        assert "[The First Judge's Verdict]" in prompt or "First Judge" in prompt
        answer = re.search(r"reply \d+", prompt)
        unsafe = answer is not None and "unsafe " + answer.group(0) in prompt
        return "Checked.\n[[FAIL]]" if unsafe else "Checked.\n[[PASS]]"

    out = tmp_path / "reviewed.jsonl"
    with FaultServer(reply=reviewer, logprobs=False) as server:
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "-t", "basic-binary", "--mode", "score",
                           "--review-judge", "openai:gpt-4o", "--base-url", server.url,
                           "--no-cache", "-o", str(out), "-q")
    assert code == 0, err
    for record in read_jsonl(out):
        judgment = record["judgment"]
        assert judgment["verdict"] in ("pass", "fail") and "score" not in judgment
        review = judgment["review"]
        assert review["template"] == "review-binary"
        assert review["verdict"] == record["label"]
        assert review["changed"] == (judgment["verdict"] != record["label"])


def test_a_review_needs_a_review_template_and_one_judge(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "items.jsonl", marked_items(2))
    missing = str(tmp_path / "no-such-judge")
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--review-judge", missing, "--review-template", "judgelm-pair")
    assert code == 2 and "does not show {first_verdict}" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--review-judge", missing, "--review-template", "review-single")
    assert code == 2 and "same kind" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--review-template", "review-pair")
    assert code == 2 and "needs --review-judge" in err


def test_explain_mode_is_the_default_when_reviewing(tmp_path, tiny_judge) -> None:
    """With a reviewer, --mode auto makes the first judge explain (the reviewer should see
    reasoning, not only a score line)."""
    from judgecli.roles.assemble import Roles, assemble
    from judgecli.judging.runner import JudgeOptions
    from judgecli.templates import load_template

    roles = Roles(judges=[str(tiny_judge)], templates=["judgelm-pair"],
                  review_judge=str(tiny_judge), review_template="review-pair",
                  options=JudgeOptions(template=load_template("judgelm-pair"), mode="auto"))
    built = assemble(roles)
    try:
        assert built.judging.first.mode == "explain"
        assert len(built.judges) == 1  # one judge in both roles is loaded once
    finally:
        for judge in built.judges:
            judge.close()


@pytest.mark.parametrize("order,first,shown", [("AB", "A", "[[A]]"), ("BA", "A", "[[B]]"),
                                               ("BA", "tie", "[[C]]")])
def test_the_first_verdict_is_shown_in_the_displayed_positions(order, first, shown) -> None:
    from types import SimpleNamespace

    from judgecli.roles.review import Review
    from judgecli.judging.runner import JudgeOptions
    from judgecli.templates import load_template

    first_judging = SimpleNamespace(options=JudgeOptions(template=load_template("basic-pair")),
                                    judge=object())
    reviewer = SimpleNamespace(options=JudgeOptions(template=load_template("review-pair")),
                               judge=object())
    review = Review(first_judging, reviewer)  # type: ignore[arg-type]
    seen = {"order": order, "verdict": first, "error": None}
    assert review._shown({"verdict": "B"}, seen, order) == shown


@pytest.mark.parametrize("first,reviewer,cap", [
    ("openai:gpt-4o-mini", "openai:gpt-4o", "0.01"),  # the reviewer runs out
    ("openai:gpt-4o", "openai:gpt-4o-mini", "0.008")])  # the first judge runs out
def test_a_review_stopped_by_max_cost_is_finished_by_resume(tmp_path, monkeypatch, capsys,
                                                            first, reviewer, cap) -> None:
    """Whichever runs out first (the dearer judge), nothing is written unreviewed."""
    from fault_server import FaultServer

    src = write_jsonl(tmp_path / "items.jsonl", marked_items(4))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "reviewed.jsonl"
    with FaultServer() as server:
        common = [str(src), "--judge", first, "-t", "mtbench-pair",
                  "--review-judge", reviewer, "--concurrency", "1",
                  "--max-new-tokens", "64", "--base-url", server.url,
                  "--cache-dir", str(tmp_path / "cache"), "-o", str(out), "-q"]
        code, _, err = cli(monkeypatch, capsys, "judge", *common, "--max-cost", cap)
        assert code == 2 and "stopped early (--max-cost)" in err
        written = read_jsonl(out)
        assert 0 < len(written) < 4 and all("review" in r["judgment"] for r in written)
        code, _, err = cli(monkeypatch, capsys, "judge", *common, "--resume")
        assert code == 0, err
        assert server.total == 16  # 4 items x 2 orders x (judge + reviewer), none twice
    finished = read_jsonl(out)
    assert [r["id"] for r in finished] == [0, 1, 2, 3]
    assert all(r["judgment"]["review"]["verdict"] == r["label"] for r in finished)


def test_dry_run_estimates_an_api_reviewers_cost(tmp_path, monkeypatch, capsys) -> None:
    """The review prompts hold the first judge's texts, unknown before judging: the estimate
    counts the rest of each prompt and bounds those texts by --max-new-tokens."""
    from judgecli.backends.openai.pricing import estimate_tokens
    from judgecli.io.records import read_items
    from judgecli.templates import load_template

    src = write_jsonl(tmp_path / "items.jsonl", marked_items(3))
    code, out, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", "openai:gpt-4o-mini",
                         "--review-judge", "openai:gpt-4o", "--max-new-tokens", "50",
                         "--dry-run")
    assert code == 0, err
    assert len(out.splitlines()) == 6  # the first judge's prompts only, both orders
    assert "the review prompts hold the first judge's texts; not shown" in err
    line = next(x for x in err.splitlines() if x.startswith("estimate for openai:gpt-4o as "))
    template = load_template("review-pair")
    blank = {"first_verdict": "[[A]]", "first_judgment": ""}
    tokens = sum(estimate_tokens("".join(m["content"] for m in prompt.messages),
                                 len(prompt.messages))
                 for item in read_items(str(src)) for order in ("AB", "BA")
                 for prompt in [template.render(item, order, blank)])
    assert f"6 request(s), ~{tokens:,} prompt tokens" in line
    assert "+ at most 300 for the first judge's texts" in line
    assert "at most 300 completion tokens" in line and "cost ~$" in line
    # The first judge's own estimate is there too, without that part.
    first = next(x for x in err.splitlines() if x.startswith("estimate for openai:gpt-4o-mini"))
    assert "first judge" not in first
