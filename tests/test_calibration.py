"""`judgecli calibrate` and the cascade: fitted figures against independent computations,
and a cascade run against a loopback OpenAI-compatible server that knows the gold labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import read_jsonl, run_cli, write_jsonl
from sklearn.metrics import roc_auc_score

from judgecli.calibration import (
    CalibrationError,
    calibrate,
    check_fits,
    fit_temperature,
    labelled_from,
    policy_curve,
)


def record(i: int, label: str, verdict: str, probs: list[dict], consistent=True,
           huang: float | None = None) -> dict:
    indicators = {"verdict_prob": sum(p[verdict] for p in probs) / len(probs),
                  "swap": {"consistent": consistent}}
    if huang is not None:
        indicators["huang"] = huang
    return {"id": i, "label": label, "judgment": {
        "judge": "j", "template": "t", "verdict": verdict, "consistent": consistent,
        "orders": [{"probs": p} for p in probs], "indicators": indicators, "error": None}}


def synthetic(n: int = 400, seed: int = 0) -> list[dict]:
    """A judge whose probability of being right is its confidence."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        conf = rng.uniform(0.4, 1.0)
        right = rng.random() < conf
        label = ["A", "B"][i % 2]
        verdict = label if right else ["A", "B"][(i + 1) % 2]
        rest = (1 - conf) / 2
        p = {"A": rest, "B": rest, "tie": rest}
        p[verdict] = conf
        rows.append(record(i, label, verdict, [p, p], huang=float(rng.normal())))
    return rows


def test_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(1)
    n, true_t = 4000, 2.0
    logits = rng.normal(0, 2, size=(n, 3))
    shown = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    truth = np.exp(logits / true_t) / np.exp(logits / true_t).sum(1, keepdims=True)
    gold = np.array([rng.choice(3, p=p) for p in truth])
    assert fit_temperature(shown, gold) == pytest.approx(true_t, rel=0.1)


def test_indicator_figures_and_target_policy() -> None:
    rows = synthetic()
    data = labelled_from(rows)
    cal = calibrate(data, target_accuracy=0.85)
    conf = np.array([r["judgment"]["indicators"]["verdict_prob"] for r in rows])
    right = np.array([r["label"] == r["judgment"]["verdict"] for r in rows])
    assert cal["indicators"]["verdict_prob"]["auroc"] == pytest.approx(roc_auc_score(right, conf))
    assert cal["indicator"] == "verdict_prob"  # the informative one beats random huang
    # Brute force: the fewest escalations whose kept items reach the target.
    order = np.argsort(-conf, kind="stable")
    best_keep = max(k for k in range(1, len(rows) + 1) if right[order[:k]].mean() >= 0.85)
    assert cal["predicted"]["escalated_share"] == pytest.approx(1 - best_keep / len(rows))
    assert cal["predicted"]["kept_accuracy"] >= 0.85
    kept = conf >= cal["threshold"]
    assert right[kept].mean() == pytest.approx(cal["predicted"]["kept_accuracy"])


def test_budget_policy_and_simulation() -> None:
    rows = synthetic(seed=3)
    oracle = [dict(r, judgment=dict(r["judgment"], verdict=r["label"])) for r in rows]
    cal = calibrate(labelled_from(rows), budget=0.3, fallback=labelled_from(oracle))
    # A budget is a maximum: the largest share the thresholds allow without going over.
    assert cal["predicted"]["escalated_share"] <= 0.3 + 1e-9
    assert cal["predicted"]["escalated_share"] >= 0.3 - 1 / len(rows) - 1e-9
    # With an oracle fallback, the cascade's accuracy is kept hits + every escalated item.
    data = labelled_from(rows)
    values = data.values(cal["indicator"])
    mask = values < cal["threshold"]
    if cal["escalate_inconsistent"]:
        mask |= ~data.consistent
    expected = np.where(mask, True, data.correct).mean()
    assert cal["predicted"]["cascade_accuracy"] == pytest.approx(expected)
    accuracies = [row["accuracy"] for row in cal["simulation"] if "policy" not in row]
    assert accuracies[0] == 1.0 and accuracies[0] >= accuracies[-1]  # all escalated first


def test_budget_is_never_exceeded_by_escalating_inconsistent_items() -> None:
    """40% swap-inconsistent items: escalating them all would beat the kept accuracy of a
    30% budget, but it spends 40% (calibrate once chose it: 39.5% for --budget 0.3)."""
    rows = synthetic(200, seed=4)
    for i, r in enumerate(rows):
        if i % 5 < 2:
            r["judgment"]["consistent"] = False
            r["judgment"]["indicators"]["swap"]["consistent"] = False
    cal = calibrate(labelled_from(rows), budget=0.3)
    share = cal["predicted"]["escalated_share"]
    data = labelled_from(rows)
    mask = data.values(cal["indicator"]) < cal["threshold"]
    if cal["escalate_inconsistent"]:
        mask |= ~data.consistent
    assert mask.mean() == pytest.approx(share) and share <= 0.3 + 1e-9
    assert not cal["escalate_inconsistent"]


def test_policy_curve_ties_and_missing_values() -> None:
    rows = [record(i, "A", "A" if i < 3 else "B", [{"A": 0.4, "B": 0.4, "tie": 0.2}] * 2)
            for i in range(5)]
    rows[4]["judgment"]["indicators"] = None  # missing: least trustworthy
    data = labelled_from(rows)
    curve = policy_curve(data, data.values("verdict_prob"), escalate_inconsistent=False)
    # Items 0-3 share one value: a threshold keeps all four or none.
    assert [p["kept"] for p in curve] == [0, 4]


def test_recorded_confidence_is_reported_as_is() -> None:
    """An older file's ``confidence`` (here noise) is measured apart from ``verdict_prob``."""
    rows = synthetic(200, seed=5)
    rng = np.random.default_rng(6)
    for r in rows:
        r["judgment"]["confidence"] = float(rng.uniform())
    rows[0]["judgment"]["confidence"] = None  # absent: left out, not counted as 0
    cal = calibrate(labelled_from(rows), budget=0.2)
    right = np.array([r["label"] == r["judgment"]["verdict"] for r in rows[1:]])
    conf = np.array([r["judgment"]["confidence"] for r in rows[1:]])
    assert cal["confidence"]["n"] == 199
    assert cal["confidence"]["auroc"] == pytest.approx(roc_auc_score(right, conf))
    assert cal["confidence"]["auroc"] != pytest.approx(cal["indicators"]["verdict_prob"]["auroc"])


def test_calibration_refuses_another_judge() -> None:
    cal = {"judge": "judge-a", "template": "judgelm-pair"}
    with pytest.raises(CalibrationError, match="fitted for judge 'judge-a'"):
        check_fits(cal, "judge-b", "judgelm-pair", "cal.json")
    with pytest.raises(CalibrationError, match="with template 'judgelm-pair'"):
        check_fits(cal, "judge-a", "pandalm", "cal.json")


def test_no_target_and_budget_together() -> None:
    with pytest.raises(CalibrationError, match="one of"):
        calibrate(labelled_from(synthetic(10)), target_accuracy=0.9, budget=0.1)


cli = run_cli


def labelled_items(n: int) -> list[dict]:
    return [{"id": i, "question": f"Which number is {i} doubled?", "answer_a": str(2 * i),
             "answer_b": str(2 * i + 1), "label": "A" if i % 3 else "B"} for i in range(n)]


def gold_reply(rows: list[dict]):
    """A judge that knows the gold labels: JudgeLM's score line, the gold answer scored 9
    (both 5 for a tie), whichever position it is shown in."""
    gold = {(r["question"], frozenset((r["answer_a"], r["answer_b"]))): r for r in rows}

    def reply(prompt: str) -> str:
        question = re.search(r"\[Question\]\n(.*?)\n\n", prompt).group(1)
        first = re.search(r"Assistant 1's Answer\]\n(.*?)\n\n", prompt).group(1)
        second = re.search(r"Assistant 2's Answer\]\n(.*?)\n\n", prompt).group(1)
        row = gold[(question, frozenset((first, second)))]
        if row["label"] == "tie":
            return "5 5\nBoth are as good."
        winner = row["answer_a"] if row["label"] == "A" else row["answer_b"]
        return "9 2\nThe first is right." if first == winner else "2 9\nThe second is right."
    return reply


def test_cascade_reaches_the_target_with_the_predicted_share(tmp_path, tiny_judge, monkeypatch,
                                                             capsys) -> None:
    from fault_server import FaultServer

    items = labelled_items(40)
    src = write_jsonl(tmp_path / "labelled.jsonl", items)
    cal_path = tmp_path / "calibration.json"
    code, _, err = cli(monkeypatch, capsys, "calibrate", str(src), "--judge", str(tiny_judge),
                       "--target-accuracy", "0.9", "-o", str(cal_path), "-q")
    assert code == 0, err
    cal = json.loads(cal_path.read_text())
    predicted = cal["predicted"]["escalated_share"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer(reply=gold_reply(items), logprobs=False) as server:
        out = tmp_path / "cascade.jsonl"
        code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                           "--calibration", str(cal_path), "--fallback", "openai:gpt-4o",
                           "--base-url", server.url, "--cache-dir", str(tmp_path / "cache"),
                           "-o", str(out), "-q")
    assert code == 0, err
    records = read_jsonl(out)
    assert len(records) == 40
    escalated = [r for r in records if r["judgment"]["decided_by"] == "fallback"]
    assert len(escalated) / 40 == pytest.approx(predicted)
    assert all("local" in r["judgment"] for r in escalated)
    accuracy = np.mean([r["judgment"]["verdict"] == r["label"] for r in records])
    assert accuracy >= 0.9
    assert f"{len(escalated)} of 40 item(s) escalated" in err
    # A calibration of another judge is refused before anything is judged.
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tmp_path),
                       "--calibration", str(cal_path), "--fallback", "openai:gpt-4o",
                       "-o", str(tmp_path / "x.jsonl"))
    assert code == 2 and "fitted for judge" in err
    # One fitted in score mode is refused in explain mode (it escalated every item there).
    assert cal["mode"] == "score"
    code, _, err = cli(monkeypatch, capsys, "judge", str(src), "--judge", str(tiny_judge),
                       "--calibration", str(cal_path), "--fallback", "openai:gpt-4o",
                       "--mode", "explain", "-o", str(tmp_path / "y.jsonl"))
    assert code == 2 and "fitted on score-mode judgments" in err and "explain mode" in err


def test_calibrate_cli_prints_the_table(tmp_path, monkeypatch, capsys) -> None:
    rows = synthetic(100)
    for r in rows:
        r["judgment"]["confidence"] = r["judgment"]["indicators"]["verdict_prob"]
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    code, out, err = cli(monkeypatch, capsys, "calibrate", "--judgments", str(path),
                         "--budget", "0.2")
    assert code == 0, err
    assert "verdict_prob" in out and "escalated" in out
    right = [r["label"] == r["judgment"]["verdict"] for r in rows]
    auroc = roc_auc_score(right, [r["judgment"]["confidence"] for r in rows])
    assert f"recorded confidence (100 items): AUROC {auroc:.3f}" in out


DEMO = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.skipif(not (DEMO / "demo-judge" / "config.json").exists(),
                    reason="examples/demo-judge is not built")
def test_demo_judge_is_less_sure_out_of_its_domain_and_the_cascade_delivers(
        tmp_path, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    rows = read_jsonl(DEMO / "labelled.jsonl")
    # Calibrate on the even rows, run the cascade on the odd ones: held-out items.
    fit_rows, run_rows = rows[0::2], rows[1::2]
    fit_path = write_jsonl(tmp_path / "fit.jsonl", fit_rows)
    run_path = write_jsonl(tmp_path / "run.jsonl", run_rows)
    judged = tmp_path / "fit.judged.jsonl"
    cal_path = tmp_path / "calibration.json"
    judge = str(DEMO / "demo-judge")
    code, out, err = cli(monkeypatch, capsys, "calibrate", str(fit_path), "--judge", judge,
                         "-t", "judgelm-pair-ref", "--target-accuracy", "0.9", "-o",
                         str(cal_path), "--judged-output", str(judged), "-q")
    assert code == 0, err
    records = read_jsonl(judged)
    inside = np.array([r["domain"] == "in" for r in records])
    confidence = np.array([r["judgment"]["confidence"] for r in records])
    auroc = roc_auc_score(inside, confidence)
    print(f"demo judge: AUROC of confidence for in-domain vs out-of-domain = {auroc:.3f}")
    assert auroc > 0.75
    cal = json.loads(cal_path.read_text())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer(reply=gold_reply(run_rows), logprobs=False) as server:
        out_path = tmp_path / "cascade.jsonl"
        code, _, err = cli(monkeypatch, capsys, "judge", str(run_path), "--judge", judge,
                           "-t", "judgelm-pair-ref", "--calibration", str(cal_path),
                           "--fallback", "openai:gpt-4o", "--base-url", server.url,
                           "--cache-dir", str(tmp_path / "cache"), "-o", str(out_path), "-q")
    assert code == 0, err
    cascade = read_jsonl(out_path)
    share = np.mean([r["judgment"]["decided_by"] == "fallback" for r in cascade])
    accuracy = np.mean([r["judgment"]["verdict"] == r["label"] for r in cascade])
    print(f"cascade: predicted escalation {cal['predicted']['escalated_share']:.2f}, "
          f"actual {share:.2f}; accuracy {accuracy:.3f}")
    assert accuracy >= 0.9 - 0.05
    assert abs(share - cal["predicted"]["escalated_share"]) <= 0.15
