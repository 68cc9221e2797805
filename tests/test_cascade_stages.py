"""A cascade of several judges (issue 21 item 2): `calibrate --fallback J2 --fallback J3`
calibrates each stage on the items the stages before it escalated, and `judge --calibration
--fallback J2 --fallback J3` sends each item down the stages until one trusts its verdict.

Real judges: two tiny local Llama judges (tests/tiny_judge.py, seeds 0 and 1) and an API
judge on the loopback OpenAI-compatible server that knows the gold labels. Expected
thresholds come from a re-statement of Trust or Escalate's procedure with scipy's beta
distribution, computed here from the judges' own verdicts and probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import read_jsonl, run_cli, write_jsonl
from scipy.stats import beta
from test_calibration import gold_reply

TARGET, DELTA, N = 0.9, 0.2, 100


def fst_threshold(phat: np.ndarray, correct: np.ndarray, alpha: float, delta: float) -> float:
    """Trust or Escalate's threshold, restated (jaehunjung1/cascaded-selective-evaluation,
    commit 1b969f2, cascaded_evaluation/util.py SelectiveClassificationUtil and the paper's
    fixed-sequence testing): candidates linspace(0, 1, 5000) keeping at least 30 items; each
    one's risk bounded above by Clopper-Pearson at level delta, here the beta quantile
    Beta(1 - delta; errors + 1, n - errors) (1 where every kept item is wrong); from the top
    down, the last candidate whose bound is at most alpha; inf (abstain) where none is."""
    lambdas = [lam for lam in np.linspace(0, 1, 5000) if (phat >= lam).sum() >= 30]
    chosen = np.inf
    for lam in reversed(lambdas):
        kept = phat >= lam
        n, errors = int(kept.sum()), int((~correct[kept]).sum())
        bound = 1.0 if errors >= n else beta.ppf(1 - delta, errors + 1, n - errors)
        if bound > alpha:
            break
        chosen = lam
    return float(chosen)


def judged(judge: Path, items: list[dict], path: Path) -> dict:
    """{id: (verdict, verdict_prob)} of ``judge`` on ``items`` (one order, score mode)."""
    from judgecli.backends import load_judge
    from judgecli.judging.runner import JudgeOptions, judge_file
    from judgecli.templates import load_template

    src = write_jsonl(path.with_suffix(".in.jsonl"), items)
    loaded = load_judge(str(judge))
    try:
        judge_file(str(src), str(path), loaded,
                   JudgeOptions(template=load_template("judgelm-pair"), swap=False),
                   force=True, progress=False)
    finally:
        loaded.close()
    return {r["id"]: (r["judgment"]["verdict"], r["judgment"]["indicators"]["verdict_prob"])
            for r in read_jsonl(path)}


@pytest.fixture(scope="module")
def labelled(tiny_judge: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Labelled items on which each tiny judge is right where it is most sure: the labels
    are stage 1's verdict on its 40% most confident items, stage 2's on the 55% of the
    others it is most sure of, and a third verdict (both wrong) on the rest."""
    from tiny_judge import save_tiny_judge

    root = tmp_path_factory.mktemp("stages")
    second = save_tiny_judge(root / "tiny-seed1", seed=1)
    items = [{"id": i, "question": f"Which number is {i} doubled?", "answer_a": str(2 * i),
              "answer_b": str(2 * i + 1)} for i in range(N)]
    one = judged(tiny_judge, items, root / "pre1.jsonl")
    ranked = sorted(one, key=lambda i: -one[i][1])
    labels = {i: one[i][0] for i in ranked[:int(0.4 * N)]}
    rest = [it for it in items if it["id"] not in labels]
    two = judged(second, rest, root / "pre2.jsonl")
    ranked = sorted(two, key=lambda i: -two[i][1])
    labels.update({i: two[i][0] for i in ranked[:int(0.55 * len(rest))]})
    for i in ranked[int(0.55 * len(rest)):]:
        labels[i] = next(v for v in ("A", "B", "tie") if v not in (one[i][0], two[i][0]))
    rows = [{**it, "label": labels[it["id"]]} for it in items]
    return {"root": root, "first": tiny_judge, "second": second, "rows": rows,
            "path": write_jsonl(root / "labelled.jsonl", rows)}


def columns(records: list[dict], ids: list) -> tuple[np.ndarray, np.ndarray]:
    by_id = {r["id"]: r for r in records}
    phat = np.array([by_id[i]["judgment"]["indicators"]["verdict_prob"] for i in ids])
    correct = np.array([by_id[i]["judgment"]["verdict"] == by_id[i]["label"] for i in ids])
    return phat, correct


def test_each_stage_is_calibrated_on_what_reaches_it_and_judges_it(labelled, monkeypatch,
                                                                   capsys) -> None:
    from fault_server import FaultServer

    root, rows = labelled["root"], labelled["rows"]
    first, second = str(labelled["first"]), str(labelled["second"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    cal_path, judged_path = root / "cascade.json", root / "judged.jsonl"
    with FaultServer(reply=gold_reply(rows)) as server:
        code, out, err = run_cli(
            monkeypatch, capsys, "calibrate", str(labelled["path"]), "--judge", first,
            "-t", "judgelm-pair", "--no-swap", "--fallback", second, "--fallback",
            "openai:gpt-4o", "--base-url", server.url, "--cache-dir", str(root / "c1"),
            "--target-accuracy", str(TARGET), "--delta", str(DELTA),
            "--indicator", "verdict_prob", "-o", str(cal_path),
            "--judged-output", str(judged_path), "-q")
        assert code == 0, err
        calibration_requests = server.total
    cal = json.loads(cal_path.read_text())
    stages = [cal, *cal["cascade"]["stages"]]
    assert [s["judge"] for s in stages] == [first, second, "openai:gpt-4o"]

    # Stage by stage: the threshold restated on the items that reach it, and those items
    # are exactly the ones the next judge was asked about.
    files = [judged_path, root / "judged.stage2.jsonl", root / "judged.stage3.jsonl"]
    reaching = [r["id"] for r in rows]
    expected = []
    for number, (stage, path) in enumerate(zip(stages, files, strict=True), start=1):
        records = read_jsonl(path)
        assert sorted(r["id"] for r in records) == sorted(reaching), f"stage {number}"
        phat, correct = columns(records, reaching)
        threshold = fst_threshold(phat, correct, 1 - TARGET, DELTA)
        assert float(stage["threshold"]) == threshold, f"stage {number}"
        assert stage["n"] == len(reaching)
        assert stage["guarantee"]["certified"] == np.isfinite(threshold)
        decided = phat >= threshold
        expected.append([i for i, d in zip(reaching, decided, strict=True) if d])
        reaching = [i for i, d in zip(reaching, decided, strict=True) if not d]
    abstained = reaching
    # The labels make each tiny judge's surest items right: both local stages keep some.
    assert len(expected[0]) > 0 and len(expected[1]) > 0
    assert calibration_requests == len(read_jsonl(files[2]))  # one order an item
    predicted = cal["cascade"]["predicted"]
    assert [s["decided"] for s in predicted["stages"]] == [len(e) for e in expected]
    assert predicted["abstained"] == len(abstained)
    assert f"abstained on {len(abstained)} ({len(abstained) / N:.1%})" in out

    # The same calibration from the stages' judgments, without judging.
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", *(
        arg for path in files for arg in ("--judgments", str(path))),
        "--target-accuracy", str(TARGET), "--delta", str(DELTA), "--indicator",
        "verdict_prob", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert [float(s["threshold"]) for s in [again, *again["cascade"]["stages"]]] == \
        [float(s["threshold"]) for s in stages]

    # judge: each item goes down the stages; the API judge is asked only about the items
    # both local judges passed on, and none of them is decided (its stage abstains).
    out_path = root / "cascade.jsonl"
    with FaultServer(reply=gold_reply(rows)) as server:
        code, _, err = run_cli(
            monkeypatch, capsys, "judge", str(labelled["path"]), "--judge", first, "-t",
            "judgelm-pair", "--no-swap", "--calibration", str(cal_path), "--fallback", second,
            "--fallback", "openai:gpt-4o", "--base-url", server.url, "--cache-dir",
            str(root / "c2"), "-o", str(out_path), "-q")
        assert code == 0, err
        assert server.total == len(read_jsonl(files[2]))
    records = {r["id"]: r["judgment"] for r in read_jsonl(out_path)}
    assert len(records) == N
    for number, ids in enumerate(expected, start=1):
        for i in ids:
            assert records[i]["stage"] == number, (i, number)
            assert records[i]["decided_by"] == ("local" if number == 1 else "fallback")
            if number > 1:
                assert records[i]["local"]["judge"] == first
    for i in abstained:
        assert records[i]["decided_by"] == "abstained" and records[i]["verdict"] is None
        assert [j["judge"] for j in [records[i]["local"], *records[i]["escalated"]]] == \
            [first, second, "openai:gpt-4o"]  # every stage's judgment is kept
    assert f"abstained {len(abstained)}; errors 0;" in err  # the run's line: no failures
    lines = [line for line in err.splitlines() if line.startswith("cascade:")]
    shares = ", ".join(f"stage {n} ({judge}) decided {len(ids)} ({len(ids) / N:.1%})"
                       for n, (judge, ids) in enumerate(
                           zip([first, second, "openai:gpt-4o"], expected, strict=True), 1))
    assert lines[0] == f"cascade: {N} item(s): {shares}; abstained on {len(abstained)} " \
                       f"({len(abstained) / N:.1%})"
    received = [N, N - len(expected[0]), len(read_jsonl(files[2]))]
    for number, (ids, got) in enumerate(zip(expected, received, strict=True), start=1):
        line = lines[number]
        assert line.startswith(f"cascade: stage {number} ") and \
            f"decided {len(ids)} of the {got} it received ({len(ids) / N:.1%} of all)" in line
        if ids:
            assert f"at least {TARGET:.3f} with probability {1 - DELTA:.2f}" in line
        else:
            assert "no threshold was certified" in line

    # With one fallback more, the last one decides what every calibrated stage escalates.
    sub = write_jsonl(root / "left.jsonl", [r for r in rows if r["id"] in set(abstained)])
    with FaultServer(reply=gold_reply(rows)) as server:
        code, _, err = run_cli(
            monkeypatch, capsys, "judge", str(sub), "--judge", first, "-t", "judgelm-pair",
            "--no-swap", "--calibration", str(cal_path), "--fallback", second, "--fallback",
            "openai:gpt-4o", "--fallback", "openai:gpt-4o-mini", "--base-url", server.url,
            "--no-cache", "-o", str(root / "last.jsonl"), "-q")
        assert code == 0, err
        assert server.total == 2 * len(abstained)  # stages 3 and 4
    last = read_jsonl(root / "last.jsonl")
    assert {r["judgment"]["stage"] for r in last} == {4}
    assert all(r["judgment"]["verdict"] == r["label"] for r in last)  # the gold judge
    assert "stage 4 openai:gpt-4o-mini decided" in err and "no guarantee" in err


def test_a_calibration_goes_with_its_number_of_fallbacks(tmp_path, monkeypatch,
                                                         capsys) -> None:
    """Two calibrated stages take one or two fallbacks; any other number is refused
    before a judge loads, naming both counts (and a single-stage file takes one)."""
    from test_escalation_guarantee import _records

    rng = np.random.default_rng(3)
    paths = []
    for number, judge in enumerate(("./weak", "./strong"), start=1):
        phat = rng.uniform(0.5, 1.0, 300)
        rows = _records(phat, rng.random(300) < phat)
        for r in rows:
            r["judgment"]["judge"] = judge
        paths.append(write_jsonl(tmp_path / f"s{number}.jsonl", rows))
    cal = tmp_path / "cal.json"
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(paths[0]),
                           "--judgments", str(paths[1]), "--target-accuracy", "0.85", "-o",
                           str(cal))
    assert code == 0, err
    items = write_jsonl(tmp_path / "items.jsonl", [{"question": "q", "answer_a": "a",
                                                    "answer_b": "b"}])
    base = ("judge", str(items), "--judge", "./weak", "-t", "judgelm-pair", "--calibration",
            str(cal))
    for count in (1, 2, 3):
        fallbacks = [arg for _ in range(count) for arg in ("--fallback", "./strong")]
        code, _, err = run_cli(monkeypatch, capsys, *base, *fallbacks, "-o",
                               str(tmp_path / "o.jsonl"))
        assert code == 2, err
        if count < 3:  # the number is right: the next check is the template
            assert "was fitted for judge './weak' with template 't'" in err
        else:
            assert "a cascade of 2 stage(s) (./weak, ./strong), and 3 --fallback were " \
                   "given: give 1" in err and "or 2 (the last decides" in err
    single = json.loads(cal.read_text())
    del single["cascade"]
    (tmp_path / "one.json").write_text(json.dumps(single))
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(items), "--judge", "./weak",
                           "-t", "judgelm-pair", "--calibration", str(tmp_path / "one.json"),
                           "--fallback", "a", "--fallback", "b", "-o", str(tmp_path / "p"))
    assert code == 2 and "calibrates one judge (./weak); give one --fallback" in err
    # A budget or a simulation does not go with several stages.
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(paths[0]),
                           "--judgments", str(paths[1]), "--budget", "0.3")
    assert code == 2 and "--target-accuracy, not --budget" in err


def test_the_whole_cascade_holds_its_target_on_unseen_halves() -> None:
    """Over random calibration/test splits of three judges with calibrated confidences, the
    cascade calibrated with delta misses the target on the test half (all decided items)
    in about delta of the splits at most; each stage calibrated empirically, far more."""
    from judgecli.calibration import escalate_mask, labelled_from
    from judgecli.calibration.stages import calibrate_cascade, stages_of
    from test_escalation_guarantee import _records

    rng = np.random.default_rng(11)
    n, target, delta, splits = 900, 0.85, 0.1, 40
    stages = []
    for _ in range(3):
        phat = rng.uniform(0.5, 1.0, n)
        stages.append(_records(phat, rng.random(n) < phat))
    missed = {"empirical": 0, "trust-or-escalate": 0}
    for _ in range(splits):
        order = rng.permutation(n)
        fit, test = order[: n // 2], order[n // 2:]
        for rule, d in (("empirical", None), ("trust-or-escalate", delta)):
            fitted = calibrate_cascade([labelled_from([rows[i] for i in fit])
                                        for rows in stages], target_accuracy=target,
                                       delta=d, indicator="verdict_prob")
            pending, hits, decided = np.ones(len(test), dtype=bool), 0, 0
            for rows, stage in zip(stages, stages_of(fitted), strict=True):
                data = labelled_from([rows[i] for i in test])
                keep = pending & ~escalate_mask(data, data.values("verdict_prob"),
                                                float(stage["threshold"]), False)
                hits += int(data.correct[keep].sum())
                decided += int(keep.sum())
                pending &= ~keep
            missed[rule] += bool(decided and hits / decided < target)
    print(f"splits missing the target on the test half: {missed}, of {splits}")
    assert missed["trust-or-escalate"] / splits <= delta + 0.1  # the test half's noise
    assert missed["empirical"] / splits >= 0.25
