"""Judge panels: the votes on hand-made member judgments, and whole runs with the tiny local
judge and loopback API judges as members."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from conftest import read_jsonl, run_cli, write_jsonl
from judgecli.errors import JudgecliError
from judgecli.roles.panel import Panel, pair_agreement
from judgecli.judging.runner import JudgeOptions
from judgecli.templates import load_template


def member(template: str, judge: object | None = None) -> SimpleNamespace:
    """A stand-in member: the panel reads only its template and its judge."""
    return SimpleNamespace(options=JudgeOptions(template=load_template(template)),
                           judge=judge or object())


def pair_vote(verdict: str | None, probs: tuple[dict, dict] | None = None,
              confidence: float | None = None, error: str | None = None) -> dict:
    orders = [{"order": o, "verdict": verdict, "probs": p, "error": None}
              for o, p in zip(("AB", "BA"), probs or (None, None))]
    return {"judge": "j", "template": "judgelm-pair", "verdict": verdict,
            "confidence": confidence, "error": error, "orders": orders}


def panel(vote: str, template: str = "judgelm-pair", n: int = 3) -> Panel:
    return Panel([member(template) for _ in range(n)], vote)


def test_majority_takes_the_most_common_verdict_and_keeps_every_member() -> None:
    members = [pair_vote("A"), pair_vote("A"), pair_vote("B")]
    out = panel("majority").combine(members)
    assert out["verdict"] == "A" and out["votes"] == {"A": 2, "B": 1}
    assert out["panel"] == members and out["judge"] == "panel" and out["vote"] == "majority"
    assert out["agreement"] == pytest.approx(2 / 6)  # one agreeing pair of three
    assert out["confidence"] == pytest.approx(2 / 3)  # members without probs: one-hot mean
    assert out["orders"][0] == {"order": "AB", "verdict": "A", "error": None}


def test_a_split_majority_breaks_by_confidence_else_ties() -> None:
    unsure_a = ({"A": 0.6, "B": 0.3, "tie": 0.1},) * 2
    sure_b = ({"A": 0.05, "B": 0.9, "tie": 0.05},) * 2
    split = [pair_vote("A", unsure_a), pair_vote("B", sure_b)]
    assert panel("majority", n=2).combine(split)["verdict"] == "B"
    # A strict-combine tie from two disagreeing orders has a confidence near 1, but its own
    # averaged probability of "tie" is small: it loses the split to a confident A.
    torn_tie = pair_vote("tie", ({"A": 0.9, "B": 0.05, "tie": 0.05},
                                 {"A": 0.05, "B": 0.9, "tie": 0.05}), confidence=0.99)
    assert panel("majority", n=2).combine([torn_tie, pair_vote("A", unsure_a)])["verdict"] \
        == "A"
    even = [pair_vote("A"), pair_vote("B")]
    assert panel("majority", n=2).combine(even)["verdict"] == "tie"
    binary = [{"verdict": "pass", "error": None, "orders": None},
              {"verdict": "fail", "error": None, "orders": None}]
    assert panel("majority", "basic-binary", 2).combine(binary)["verdict"] == "fail"


def test_mean_averages_the_members_probabilities() -> None:
    sure_b = ({"A": 0.05, "B": 0.9, "tie": 0.05},) * 2
    lean_a = ({"A": 0.55, "B": 0.4, "tie": 0.05},) * 2
    members = [pair_vote("A", lean_a), pair_vote("A", lean_a), pair_vote("B", sure_b)]
    out = panel("mean").combine(members)
    # Majority says A; the mean of the probabilities says B: 0.567 against 0.383.
    assert panel("majority").combine(members)["verdict"] == "A"
    assert out["verdict"] == "B"
    assert out["confidence"] == pytest.approx((0.4 + 0.4 + 0.9) / 3)


def test_unanimous_needs_every_voting_member() -> None:
    assert panel("unanimous").combine([pair_vote("A")] * 3)["verdict"] == "A"
    assert panel("unanimous").combine([pair_vote("A")] * 2 + [pair_vote("B")])["verdict"] \
        == "tie"
    passes = [{"verdict": "pass", "error": None}] * 2
    assert panel("unanimous", "basic-binary", 3).combine(
        passes + [{"verdict": "fail", "error": None}])["verdict"] == "fail"


def test_failed_members_abstain_and_all_failed_is_an_error_not_a_tie() -> None:
    out = panel("majority").combine([pair_vote("B"), pair_vote(None, error="unparseable"),
                                     pair_vote("B")])
    assert out["verdict"] == "B" and out["abstained"] == 1 and out["error"] is None
    failed = panel("majority").combine([pair_vote(None, error="timeout")] * 3)
    assert failed["verdict"] is None and "every panel member failed" in failed["error"]


def test_grades_take_the_median_mean_or_lowest() -> None:
    grades = [{"score": s, "error": None} for s in (2.0, 7.0, 9.0)]
    assert panel("majority", "mtbench-single").combine(grades)["score"] == 7.0
    assert panel("mean", "mtbench-single").combine(grades)["score"] == pytest.approx(6.0)
    assert panel("unanimous", "mtbench-single").combine(grades)["score"] == 2.0
    assert panel("mean", "mtbench-single").combine(grades)["agreement"] == 0.0


def test_pair_agreement_is_fleiss_per_item_term() -> None:
    assert pair_agreement(["A", "A", "A"]) == 1.0
    assert pair_agreement(["A", "B"]) == 0.0
    assert pair_agreement(["A", "A", "B", "B"]) == pytest.approx(4 / 12)
    assert pair_agreement(["A"]) is None


def test_members_of_different_kinds_are_refused() -> None:
    with pytest.raises(JudgecliError, match="same kind"):
        Panel([member("judgelm-pair"), member("mtbench-single")])
    with pytest.raises(JudgecliError, match="at least two"):
        Panel([member("judgelm-pair")])
    with pytest.raises(JudgecliError, match="--panel-vote"):
        Panel([member("judgelm-pair")] * 2, "plurality")


# -- whole runs --------------------------------------------------------------------------

cli = run_cli


def marked_items(n: int) -> list[dict]:
    """The loopback judge's reply puts the answer marked GOOD first."""
    return [{"id": i, "question": f"Question {i}?",
             "answer_a": f"GOOD answer {i}" if i % 3 else f"BAD answer {i}",
             "answer_b": f"BAD answer {i}" if i % 3 else f"GOOD answer {i}",
             "label": "A" if i % 3 else "B"} for i in range(n)]


def test_a_mixed_panel_of_local_and_api_judges(tmp_path, tiny_judge, monkeypatch,
                                               capsys) -> None:
    from fault_server import FaultServer

    items = marked_items(12)
    src = write_jsonl(tmp_path / "items.jsonl", items)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer() as server:
        common = ["--base-url", server.url, "--cache-dir", str(tmp_path / "cache"), "-q"]
        out = tmp_path / "panel.jsonl"
        # Member templates given one per judge: JudgeLM's for the local judge, MT-Bench's
        # and JudgeLM's for the two API judges.
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "--judge", "openai:gpt-4o", "--judge", "openai:gpt-4o-mini",
                           "-t", "judgelm-pair", "-t", "mtbench-pair", "-t", "judgelm-pair",
                           "-o", str(out), *common)
        assert code == 0, err
        records = read_jsonl(out)
        assert [r["id"] for r in records] == list(range(12))
        for record in records:
            judgment = record["judgment"]
            members = judgment["panel"]
            assert [m["judge"] for m in members][1:] == ["openai:gpt-4o", "openai:gpt-4o-mini"]
            assert [m["template"] for m in members] == ["judgelm-pair", "mtbench-pair",
                                                        "judgelm-pair"]
            assert judgment["template"] == "mixed" and judgment["vote"] == "majority"
            # Both API judges are right in both orders, so they carry every vote.
            assert members[1]["verdict"] == members[2]["verdict"] == record["label"]
            assert judgment["verdict"] == record["label"]
            assert sum(judgment["votes"].values()) == 3
            assert judgment["agreement"] in (1.0, pytest.approx(1 / 3))

        # Unanimous: a winner only where the random local judge happens to agree.
        out_u = tmp_path / "unanimous.jsonl"
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "--judge", "openai:gpt-4o", "--panel-vote", "unanimous",
                           "-o", str(out_u), *common)
        assert code == 0, err
        for record in read_jsonl(out_u):
            local = record["judgment"]["panel"][0]["verdict"]
            expected = record["label"] if local == record["label"] else "tie"
            assert record["judgment"]["verdict"] == expected

        # --resume finishes a cut panel run without judging anything twice.
        lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
        out.write_text("".join(lines[:5]), encoding="utf-8")
        served = sum(server.served.values())
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "--judge", "openai:gpt-4o", "--judge", "openai:gpt-4o-mini",
                           "-t", "judgelm-pair", "-t", "mtbench-pair", "-t", "judgelm-pair",
                           "-o", str(out), "--resume", "--no-cache",
                           "--base-url", server.url, "-q")
        assert code == 0, err
        assert "already done 5" in err
        resumed = read_jsonl(out)
        assert [r["id"] for r in resumed] == list(range(12))
        for before, after in zip(records, resumed):
            assert after["judgment"]["verdict"] == before["judgment"]["verdict"]
            assert [m["verdict"] for m in after["judgment"]["panel"]] == \
                [m["verdict"] for m in before["judgment"]["panel"]]
            assert after["judgment"]["confidence"] == pytest.approx(
                before["judgment"]["confidence"], abs=1e-4)
        # 7 items x 2 API members x 2 orders, nothing for the 5 already written.
        assert sum(server.served.values()) - served == 7 * 2 * 2


def test_panel_options_fail_before_loading(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "items.jsonl", marked_items(2))
    missing = str(tmp_path / "no-such-judge")
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--judge", missing, "-t", "a", "-t", "b", "-t", "c")
    assert code == 2 and "2 --judge but 3 --template" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--judge", missing, "-t", "judgelm-pair", "-t", "mtbench-single")
    assert code == 2 and "same kind" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--judge", missing, "--review-judge", missing)
    assert code == 2 and "one --judge" in err
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", missing,
                       "--judge", "openai:gpt-4o", "--panel-vote", "plurality")
    assert code == 2 and "--panel-vote must be one of" in err
    for text in (err,):
        assert "Traceback" not in text


def test_dry_run_prints_each_members_template_once(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "items.jsonl", marked_items(2))
    code, out, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", "openai:gpt-4o",
                         "--judge", "openai:gpt-4o-mini", "--judge", "openai:gpt-4o",
                         "-t", "judgelm-pair", "-t", "mtbench-pair", "-t", "judgelm-pair",
                         "--dry-run")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["template"] for r in rows] == ["judgelm-pair"] * 4 + ["mtbench-pair"] * 4
    assert "8 prompt(s); nothing judged" in err
    # Every API member's cost is estimated, the repeated judge too.
    assert err.count("estimate for openai:") == 3


def test_compare_with_a_panel(tmp_path, tiny_judge, monkeypatch, capsys) -> None:
    """`compare` takes a panel too: model B's answers are the GOOD ones, and the two API
    members outvote the random local judge on every prompt."""
    from fault_server import FaultServer

    a = write_jsonl(tmp_path / "a.jsonl", [{"id": f"q{i}", "question": f"Question {i}?",
                                            "answer": f"BAD answer {i}", "model": "weak"}
                                           for i in range(6)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": f"q{i}", "question": f"Question {i}?",
                                            "answer": f"GOOD answer {i}", "model": "strong"}
                                           for i in range(6)])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("JUDGECLI_CACHE_DIR", str(tmp_path / "cache"))
    with FaultServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        out = tmp_path / "judged.jsonl"
        code, stdout, err = cli(monkeypatch, capsys, "compare", str(a), str(b), "--judge",
                                str(tiny_judge), "--judge", "openai:gpt-4o", "--judge",
                                "openai:gpt-4o-mini", "-o", str(out), "--json", "-q")
    assert code == 0, err
    records = read_jsonl(out)
    assert len(records) == 6
    assert all(len(r["judgment"]["panel"]) == 3 for r in records)
    assert all(r["judgment"]["verdict"] == "B" for r in records)
    (pair,) = json.loads(stdout)["pairs"]
    assert pair["model_b"] == "strong" and pair["wins"] == 6 and pair["win_rate"] == 1.0


def test_a_panel_stopped_by_max_cost_keeps_whole_items_and_resume_pays_nothing_twice(
        tmp_path, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    src = write_jsonl(tmp_path / "items.jsonl", marked_items(4))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "panel.jsonl"
    with FaultServer() as server:
        common = [str(src), "--judge", "openai:gpt-4o", "--judge", "openai:gpt-4o-mini",
                  "-t", "mtbench-pair", "--concurrency", "1", "--max-new-tokens", "64",
                  "--base-url", server.url, "--cache-dir", str(tmp_path / "cache"),
                  "-o", str(out), "-q"]
        # --max-cost holds for each API judge: gpt-4o's share runs out first.
        code, _, err = cli(monkeypatch, capsys, "judge", *common, "--max-cost", "0.008")
        assert code == 2 and "stopped early (--max-cost)" in err
        written = read_jsonl(out)
        assert 0 < len(written) < 4
        assert all(len(r["judgment"]["panel"]) == 2 and r["judgment"]["error"] is None
                   for r in written)
        code, _, err = cli(monkeypatch, capsys, "judge", *common, "--resume")
        assert code == 0, err
        # 2 judges x 4 items x 2 orders, each sent once: what gpt-4o-mini judged past the
        # stop came from the cache on --resume.
        assert server.total == 16
    finished = read_jsonl(out)
    assert [r["id"] for r in finished] == [0, 1, 2, 3]
    assert all(r["judgment"]["verdict"] == r["label"] for r in finished)


def test_the_library_path_of_the_readme(tmp_path, tiny_judge, monkeypatch) -> None:
    """Panels and reviews without the CLI: wrap Judgings and hand them to judge_file."""
    from fault_server import FaultServer

    from judgecli import JudgeOptions, Judging, Panel, Review, judge_file, load_judge

    src = write_jsonl(tmp_path / "items.jsonl", marked_items(4))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = load_judge(str(tiny_judge))
    options = JudgeOptions(template=load_template("judgelm-pair"))
    with FaultServer() as server:
        api = load_judge("openai:gpt-4o-mini", base_url=server.url, cache=False)
        try:
            panel = Panel([Judging(judge, options), Judging(api, options)], vote="majority")
            judge_file(str(src), str(tmp_path / "panel.jsonl"), judge, options,
                       judging=panel, progress=False)
            reviewer = Judging(api, JudgeOptions(template=load_template("review-pair")))
            review = Review(Judging(judge, JudgeOptions(template=options.template,
                                                        mode="score")), reviewer)
            judge_file(str(src), str(tmp_path / "reviewed.jsonl"), judge, options,
                       judging=review, progress=False)
        finally:
            api.close()
    assert all(len(r["judgment"]["panel"]) == 2 for r in read_jsonl(tmp_path / "panel.jsonl"))
    reviewed = read_jsonl(tmp_path / "reviewed.jsonl")
    assert all(r["judgment"]["review"]["verdict"] == r["label"] for r in reviewed)
