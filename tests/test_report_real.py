"""Recorded judgments from elsewhere: the converters, and the report on real published data
(../shared/data; skipped where absent) against independent computations on the raw files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from test_report_helpers import judgelm_bias, pandalm_metrics

from judgecli.errors import InputError
from judgecli.io.jsonl import dumps
from judgecli.report import ReportOptions, build_report
from judgecli.report.convert import judgelm, llmbar, pandalm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(__file__).parent / "data" / "report"


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


def _write(path: Path, records: Any) -> str:
    path.write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _report(path: str, **options: Any) -> dict[str, Any]:
    (summary,) = build_report([path], ReportOptions(**options))
    return summary


# --- PandaLM: data/compute_metrics.py figures, and sklearn directly on the raw files -----

# Printed in the comments of WeOpenML/PandaLM data/compute_metrics.py for these files.
PANDALM_SCRIPT = {"pandalm-7b": (0.6677, 0.5738, 0.5750, 0.5743),
                  "gpt-3.5-turbo": (0.7107, 0.5879, 0.5736, 0.5755)}


def _raw_pandalm(results: Path) -> tuple[list[int], list[Any]]:
    items = json.loads(_shared("pandalm", "testset-v1.json").read_text())
    rows = {str(r["idx"]): r for r in json.loads(results.read_text())}
    gold = [Counter([r["annotator1"], r["annotator2"], r["annotator3"]]).most_common(1)[0][0]
            for r in items]
    raw = [rows[str(r["idx"])].get("pandalm_result", rows[str(r["idx"])].get("gpt_result"))
           for r in items]
    return [int(g) for g in gold], raw


@pytest.mark.parametrize("judge", ["pandalm-7b", "gpt-3.5-turbo"])
def test_pandalm_test_set(tmp_path: Path, judge: str) -> None:
    results = _shared("pandalm", f"{judge}-testset-v1.json")
    path = _write(tmp_path / "j.jsonl",
                  pandalm(str(_shared("pandalm", "testset-v1.json")), str(results)))
    gold, raw = _raw_pandalm(results)
    # PandaLM's script: anything but 1 / 2 (Tie, garbage) is a tie.
    as_tie = [int(r) if str(r) in ("1", "2") else 0 for r in raw]
    s = _report(path, errors="tie")
    precision, recall, f1, _ = precision_recall_fscore_support(gold, as_tie, average="macro",
                                                               labels=[0, 1, 2])
    assert s["n"] == len(gold) == 999
    assert s["agreement"] == pytest.approx(accuracy_score(gold, as_tie))
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((precision, recall, f1))
    expected = pandalm_metrics(gold, as_tie)
    assert s["f1"] == pytest.approx(expected["f1"])
    assert [round(s[k], 4) for k in ("agreement", "precision", "recall", "f1")] == \
        list(PANDALM_SCRIPT[judge])
    # The default counts an unparseable verdict ("garbage") as wrong, not as a tie.
    wrong = _report(path)
    as_wrong = [int(r) if str(r) in ("1", "2") else 0 if str(r).lower() in ("0", "tie") else -1
                for r in raw]
    assert wrong["n_failed"] == as_wrong.count(-1) == (25 if judge == "gpt-3.5-turbo" else 0)
    assert wrong["agreement"] == pytest.approx(accuracy_score(gold, as_wrong))
    present = sorted(set(gold) | set(as_wrong) - {-1})
    assert wrong["f1"] == pytest.approx(precision_recall_fscore_support(
        gold, as_wrong, average="macro", labels=present, zero_division=0)[2])
    by_pair = _report(path, by=("cmp_key",))["groups"]
    assert sum(g["n"] for g in by_pair) == 999 and len(by_pair) > 1


def test_pandalm_converter_rejects_mismatched_files(tmp_path: Path) -> None:
    testset = tmp_path / "t.json"
    testset.write_text(json.dumps([{"idx": 0, "response1": "a", "response2": "b",
                                    "annotator1": 1, "annotator2": 1, "annotator3": 2}]))
    results = tmp_path / "r.json"
    results.write_text(json.dumps([{"idx": 1, "pandalm_result": 1}]))
    with pytest.raises(InputError, match="no result for idx 0"):
        list(pandalm(str(testset), str(results)))
    results.write_text(json.dumps([{"idx": 0, "pandalm_result": "maybe"}]))
    (row,) = pandalm(str(testset), str(results))
    assert row["label"] == "A" and row["judgment"]["verdict"] is None
    assert "unparseable" in row["judgment"]["error"]


# --- LLMBar: both orders, against counts on the raw files ---------------------------------

LLMBAR_SETS = ["natural", "adversarial-neighbor", "adversarial-gptinst", "adversarial-gptout",
               "adversarial-manual"]


@pytest.mark.parametrize("subset", LLMBAR_SETS)
def test_llmbar_gpt4(tmp_path: Path, subset: str) -> None:
    source = _shared("llmbar", f"{subset}.gpt4-vanilla.json")
    s = _report(_write(tmp_path / "j.jsonl", llmbar(str(source))))
    raw = json.loads(source.read_text())
    gold = [str(r["label"]) for r in raw]
    first = [r["results"][0]["swap = False"]["winner"] for r in raw]
    second = [r["results"][0]["swap = True"]["winner"] for r in raw]
    n = len(raw)
    assert s["n"] == n and s["kind"] == "pair"
    assert s["agreement_by_order"]["AB"] == pytest.approx(
        sum(g == w for g, w in zip(gold, first, strict=True)) / n)
    assert s["agreement_by_order"]["BA"] == pytest.approx(
        sum(g == w for g, w in zip(gold, second, strict=True)) / n)
    both = sum(g == w == v for g, w, v in zip(gold, first, second, strict=True)) / n
    assert s["agreement_both_orders"] == pytest.approx(both)
    # No ties among LLMBar's labels: the strict verdict is right exactly when both orders are.
    assert s["agreement"] == pytest.approx(both)
    same = sum(w == v for w, v in zip(first, second, strict=True))
    assert s["consistency"] == pytest.approx(same / n)
    letters = {"1": "A", "2": "B"}
    bias = judgelm_bias([letters[w] for w in first], [letters[v] for v in second])
    for key in ("prefer_first", "prefer_second", "position_bias", "total_bias"):
        assert s[key] == pytest.approx(bias[key]), key


def test_llmbar_results_as_python_literal(tmp_path: Path) -> None:
    source = tmp_path / "natural.gpt4-vanilla.json"
    source.write_text(json.dumps([{"input": "q", "output_1": "a", "output_2": "bb", "label": 2,
                                   "results": repr([{"swap = False": {"winner": "2"},
                                                     "swap = True": {"winner": "1"}}])}]))
    (row,) = llmbar(str(source))
    assert row["id"] == "natural/1" and row["label"] == "B" and row["set"] == "natural"
    assert [o["verdict"] for o in row["judgment"]["orders"]] == ["B", "A"]
    assert row["judgment"]["verdict"] == "tie" and row["judgment"]["consistent"] is False


# --- JudgeLM: pred_text "s1 s2", the reversed run, reference judgments -------------------

def test_judgelm_converter(tmp_path: Path) -> None:
    rows = list(judgelm(str(DATA / "judgelm_pred.jsonl"), str(DATA / "judgelm_reversed.jsonl"),
                        str(DATA / "judgelm_gt.jsonl")))
    orders = [[o.get("verdict") for o in r["judgment"]["orders"]] for r in rows]
    assert orders == [["A", "B"], ["tie", "B"], [None, "A"], ["B", "B"]]
    assert [r["judgment"]["verdict"] for r in rows] == ["tie", "tie", None, "B"]
    assert [r["label"] for r in rows] == ["A", "A", None, "tie"]  # "garbled" gives no label
    assert rows[2]["judgment"]["error"].startswith("AB: unparseable")
    s = _report(_write(tmp_path / "j.jsonl", rows))
    assert s["n"] == 4 and s["n_labeled"] == 3 and s["n_failed"] == 1
    assert s["agreement"] == 0.0 and s["consistency"] == pytest.approx(1 / 4)


def test_convert_command_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "judgecli.report.convert", "judgelm",
                           str(DATA / "judgelm_pred.jsonl")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["judgment"]["verdict"] for x in proc.stdout.splitlines()] == \
        ["A", "tie", None, "B"]
    proc = subprocess.run([sys.executable, "-m", "judgecli.report.convert", "llmbar",
                           str(tmp_path / "missing.json")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr


# --- A panel of PandaLM-7B and GPT-3.5 on PandaLM's test set ------------------------------

def test_panel_of_the_two_pandalm_judges(tmp_path: Path) -> None:
    """The panel's vote, its Krippendorff's alpha and its member rows on real verdicts,
    against krippendorff and scikit-learn called on the raw result files."""
    from types import SimpleNamespace

    import krippendorff
    import numpy as np

    from judgecli.roles.panel import Panel
    from judgecli.judging.runner import JudgeOptions
    from judgecli.templates import load_template

    testset = str(_shared("pandalm", "testset-v1.json"))
    files = [_shared("pandalm", f"{name}-testset-v1.json")
             for name in ("pandalm-7b", "gpt-3.5-turbo")]
    member = SimpleNamespace(options=JudgeOptions(template=load_template("pandalm")),
                             judge=object())
    panel = Panel([member, member], "majority")
    judged = [list(pandalm(testset, str(f))) for f in files]
    records = [{**first, "judgment": panel.combine([first["judgment"], second["judgment"]])}
               for first, second in zip(*judged, strict=True)]
    summary = _report(_write(tmp_path / "panel.jsonl", records), errors="tie")
    code = {"A": 0, "B": 1, "tie": 2}
    matrix = np.array([[code.get(r["judgment"]["verdict"], np.nan) for r in one]
                       for one in judged], dtype=float)
    assert summary["panel_members"] == 2
    assert summary["panel_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    # Two members without confidences: a split vote is a tie; a failed member abstains, so
    # the other decides alone; both failed counts as a tie here (errors="tie").
    gold = [r["label"] for r in records]

    def vote(first: Any, second: Any) -> str:
        if first is None or second is None:
            return first or second or "tie"
        return first if first == second else "tie"

    both = [vote(one["judgment"]["verdict"], two["judgment"]["verdict"])
            for one, two in zip(*judged)]
    assert summary["agreement"] == pytest.approx(accuracy_score(gold, both))
    rows = {row["source"]: row for row in summary["judges"] if row["group"] is None
            or row["group"] == "(all)"}
    assert rows["judgment.panel.0"]["agreement"] == pytest.approx(0.6677, abs=1e-4)
    assert rows["judgment.panel.1"]["agreement"] == pytest.approx(0.7107, abs=1e-4)
    print(f"\nPandaLM test set panel (PandaLM-7B + GPT-3.5, majority): agreement "
          f"{summary['agreement']:.3f}, alpha {summary['panel_alpha']:.3f}")
