"""Issue 26: report's typos are errors (--by, --baseline), AlpacaEval figures without logprobs
are said to be missing (run and report), and what the records and tables write is what they
mean (calibrate's threshold, Prometheus's integer grades, an order-less single-answer order,
convert alpacaeval from JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl

from judgecli import load_template
from judgecli.backends.base import Completion, Judge, Request
from judgecli.io.records import read_items
from judgecli.judging.core import JudgeOptions, Judging


def pair(i: int, verdict: str = "A", **extra: object) -> dict:
    return {"id": i, "answer_a": "x" * (i + 1), "answer_b": "y", **extra,
            "judgment": {"judge": "j", "template": "t", "verdict": verdict, "error": None}}


class FixedJudge(Judge):
    """Writes the same reply to every request, with ``probs`` as its one slot's
    distribution (None: no token probabilities, as a server without logprobs)."""

    name = "fixed"

    def __init__(self, text: str, probs: dict[str, float] | None = None) -> None:
        self.text, self.probs = text, probs

    def complete(self, requests: list[Request]) -> list[Completion]:
        return [Completion(text=self.text, slot_probs=None if self.probs is None
                           else (dict(self.probs),)) for _ in requests]


# --- A. item 4: typos are errors ------------------------------------------------------------

def test_by_a_field_no_record_has_is_an_error_naming_those_they_have(
        tmp_path: Path, monkeypatch, capsys) -> None:
    rows = [pair(i, meta={"source": "s"}) for i in range(5)]
    path = write_jsonl(tmp_path / "f.jsonl", rows)
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path), "--by", "nosuchfield")
    assert code == 2 and out == ""
    line, = err.strip().splitlines()
    assert line == (f"judgecli: error: {path}: field 'nosuchfield': --by: no record has it; "
                    "the records have answer_a, answer_b, id, judgment, judgment.error, "
                    "judgment.judge, judgment.template, judgment.verdict, meta")
    # A dotted path names the fields beside its last part; of several, the one in none.
    code, _, err = run_cli(monkeypatch, capsys, "report", str(path), "--by",
                           "meta.source,meta.lang")
    assert code == 2 and "field 'meta.lang': --by: no record has it" in err
    assert "meta.source" in err
    # --json says the same (the error comes from loading, before any figure).
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path), "--json", "--by",
                             "judgment.category")
    assert code == 2 and out == "" and "field 'judgment.category'" in err


def test_by_names_at_most_some_fields(tmp_path: Path) -> None:
    from judgecli.errors import InputError
    from judgecli.report import ReportOptions, build_report

    rows = [pair(i, **{f"k{n:02d}": n for n in range(30)}) for i in range(3)]
    path = write_jsonl(tmp_path / "wide.jsonl", rows)
    with pytest.raises(InputError, match=r"the records have answer_a, answer_b, id, judgment, "
                                         r"judgment.error, .*, k\d\d and \d+ more$"):
        build_report([str(path)], ReportOptions(by=("nope",)))


def test_by_a_field_only_late_records_have_is_still_a_group(tmp_path: Path) -> None:
    """Seen once is enough, however late (the fields are sampled from the first records
    only, for the message): no false alarm, and the "(none)" group stays."""
    from judgecli.report import ReportOptions, build_report

    rows = [pair(i) for i in range(150)]
    rows[-1]["category"] = "late"
    rows[3]["category"] = None  # present but null: a field the records have
    path = write_jsonl(tmp_path / "late.jsonl", rows)
    summary, = build_report([str(path)], ReportOptions(by=("category",)))
    assert {g["group"]: g["n"] for g in summary["groups"]} == {"(none)": 149, "late": 1}
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")  # no record: nothing to group, no error
    summary, = build_report([str(empty)], ReportOptions(by=("category",)))
    assert summary["n"] == 0


def arenahard_rows(models: bool) -> list[dict]:
    rows = []
    for i, (ab, ba) in enumerate([("B>A", "B>>A"), ("A>B", "A=B"), ("B>A", "B>A")]):
        orders = [{"order": "AB", "verdict": ab[0] if ab != "A=B" else "tie", "label5": ab,
                   "error": None},
                  {"order": "BA", "verdict": ba[0] if ba != "A=B" else "tie", "label5": ba,
                   "error": None}]
        record = {"id": i, "answer_a": "a", "answer_b": "b",
                  "judgment": {"verdict": "B" if i != 1 else "tie", "orders": orders,
                               "error": None}}
        if models:
            record.update(model_a="base", model_b=f"m{i % 2 + 1}")
        rows.append(record)
    return rows


def test_baseline_a_file_without_models_cannot_take_is_an_error(
        tmp_path: Path, monkeypatch, capsys) -> None:
    plain = write_jsonl(tmp_path / "ah.jsonl", arenahard_rows(models=False))
    code, out, err = run_cli(monkeypatch, capsys, "report", str(plain), "--baseline", "foo")
    assert code == 2 and out == ""
    assert err.strip() == (f"judgecli: error: --baseline foo: not a model of {plain} (its "
                           "records have no model_a or model_b fields)")
    code, _, err = run_cli(monkeypatch, capsys, "report", str(plain))  # no --baseline: fine
    assert code == 0, err
    named = write_jsonl(tmp_path / "models.jsonl", arenahard_rows(models=True))
    code, _, err = run_cli(monkeypatch, capsys, "report", str(named), "--baseline", "foo")
    assert code == 2 and "(its models: base, m1, m2)" in err
    code, _, err = run_cli(monkeypatch, capsys, "report", str(named), "--baseline", "base")
    assert code == 0, err


# --- B. item 3: AlpacaEval's figures need logprobs ------------------------------------------

def alpaca_judged(i: int, preference: float | None, failed: bool = False) -> dict:
    verdict = None if failed else "B" if preference is None or preference > 1.5 else "A"
    return {"id": i, "question": "q", "answer_a": "a", "answer_b": "bb",
            "judgment": {"judge": "openai:gpt-4o", "template": "alpacaeval2", "mode": "explain",
                         "verdict": verdict, "preference": preference,
                         "error": "AB: timeout" if failed else None,
                         "orders": [{"order": "AB", "verdict": verdict, "probs": None,
                                     "error": "timeout" if failed else None}]}}


NOTE = "no AlpacaEval figures: judgment.preference is null on every judged item (line 2 is"


def test_report_says_alpacaeval_figures_need_logprobs(tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    rows = [alpaca_judged(0, None, failed=True)] + [alpaca_judged(i, None) for i in (1, 2)]
    path = write_jsonl(tmp_path / "no-logprobs.jsonl", rows)
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path))
    assert code == 0, err
    text = " ".join(out.split())
    assert f"note: {NOTE}" in text and "top_logprobs" in text
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["alpacaeval_win_rate"] is None
    note, = summary["notes"]
    assert note.startswith(NOTE)
    # Several files: each note names its file; a file with preferences has none.
    good = write_jsonl(tmp_path / "good.jsonl", [alpaca_judged(i, 1.75) for i in range(3)])
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path), str(good), "--json")
    assert code == 0, err
    assert [f["notes"] for f in json.loads(out)["files"]] == [[note], []]
    code, out, _ = run_cli(monkeypatch, capsys, "report", str(path), str(good))
    assert f"note: {path}: {NOTE}" in " ".join(out.split())
    # Every judgment failed (or no judgment asked for a preference): nothing to say.
    failed = write_jsonl(tmp_path / "failed.jsonl", [alpaca_judged(0, None, failed=True)])
    plain = write_jsonl(tmp_path / "plain.jsonl", [pair(0), pair(1, "B")])
    for quiet in (failed, plain):
        code, out, err = run_cli(monkeypatch, capsys, "report", str(quiet), "--json")
        assert code == 0, err
        assert json.loads(out)["notes"] == []


def test_judging_says_at_the_first_reply_without_probabilities(tmp_path: Path, capsys) -> None:
    rows = [{"id": i, "question": f"q{i}", "answer_a": "a", "answer_b": "b"} for i in range(3)]
    items = list(read_items(str(write_jsonl(tmp_path / "pairs.jsonl", rows))))
    options = JudgeOptions(template=load_template("alpacaeval2"))
    judging = Judging(FixedJudge("M"), options)
    first = judging.judge_items(items[:1])
    err = capsys.readouterr().err
    # "M" in both orders: B, then A in the original terms; the verdicts stand, unweighed.
    assert first[0]["judgment"]["verdict"] == "tie" and first[0]["judgment"]["error"] is None
    assert first[0]["judgment"]["preference"] is None
    assert err.count("judgecli: warning:") == 1
    assert "judge fixed gave no token probabilities (logprobs)" in err
    assert "template alpacaeval2" in err and "top_logprobs" in err
    judging.judge_items(items[1:])
    assert capsys.readouterr().err == ""  # once per run, not once per item
    # A judge that gives them: a preference and no word.
    judging = Judging(FixedJudge("M", {"m": 0.25, "M": 0.75}), options)
    record, = judging.judge_items(items[:1])
    assert record["judgment"]["preference"] == pytest.approx(1.5)  # 0.75 and 1 - 0.75
    assert capsys.readouterr().err == ""


def test_alpacaeval2_through_a_server_without_logprobs_says_so(
        tmp_path: Path, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    rows = [{"id": i, "question": f"ITEM-{i} q", "answer_a": "a", "answer_b": "b"}
            for i in range(3)]
    src = write_jsonl(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "judged.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer(reply=lambda prompt: "M", logprobs=False) as server:
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(src), "--judge",
                               "openai:gpt-4o", "--base-url", server.url, "--no-cache",
                               "-t", "alpacaeval2", "-q", "-o", str(out))
    assert code == 0, err
    assert err.count("gave no token probabilities (logprobs)") == 1
    records = read_jsonl(out)
    assert [r["judgment"]["verdict"] for r in records] == ["tie"] * 3  # "M" in both orders
    assert all(r["judgment"]["preference"] is None for r in records)
    code, report, err = run_cli(monkeypatch, capsys, "report", str(out), "--json")
    assert code == 0, err
    assert json.loads(report)["notes"][0].startswith("no AlpacaEval figures")


# --- C. item 13: what is written is what it means ----------------------------------------

def test_calibrate_table_shows_the_threshold_rounded(tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    from test_calibration import synthetic

    path = write_jsonl(tmp_path / "judged.jsonl", synthetic(100))
    cal_path = tmp_path / "calibration.json"
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(path),
                             "--budget", "0.2", "-o", str(cal_path))
    assert code == 0, err
    threshold = json.loads(cal_path.read_text(encoding="utf-8"))["threshold"]
    assert len(repr(threshold)) > 8  # the file keeps every digit
    text = " ".join(out.split())
    assert f"escalate below {threshold:.4g} " in text and repr(threshold) not in text


def test_prometheus_integer_grade_is_written_as_an_integer(tmp_path: Path) -> None:
    rows = [{"id": 1, "question": "q", "answer": "a", "rubric": "Is it right?"}]
    items = list(read_items(str(write_jsonl(tmp_path / "items.jsonl", rows))))
    judging = Judging(FixedJudge("Feedback: fine. [RESULT] 4"),
                      JudgeOptions(template=load_template("prometheus-absolute")))
    record, = judging.judge_items(items)
    assert record["judgment"]["score"] == 4 and type(record["judgment"]["score"]) is int
    assert '"score": 4,' in json.dumps(record["judgment"])
    # A float-reading template still reads 7 as 7.0 (only "number": "int" is an integer).
    from judgecli.parsers.specs import decode, encode

    floats = decode(encode({"regex": r"\[\[(\d+)\]\]", "kind": "score", "number": "float"}))
    assert type(floats.parse("[[7]]").scores[0]) is float


def test_report_reads_a_single_answer_order_that_does_not_name_its_order(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """One answer is shown in one order only: an orders[] entry of a pass / fail judgment
    without "order" (or with null) is that order, not bad input."""
    rows = [{"id": i, "answer": "x", "label": label,
             "judgment": {"verdict": verdict, "error": None,
                          "orders": [{"verdict": verdict, "error": None}
                                     if i % 2 else {"order": None, "verdict": verdict}]}}
            for i, (verdict, label) in enumerate([("pass", "pass"), ("fail", "pass"),
                                                  ("fail", "fail")])]
    path = write_jsonl(tmp_path / "binary.jsonl", rows)
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["kind"] == "binary" and summary["agreement"] == pytest.approx(2 / 3)
    # Two entries still have to say which order each is.
    rows[0]["judgment"]["orders"] *= 2
    write_jsonl(path, rows)
    code, _, err = run_cli(monkeypatch, capsys, "report", str(path))
    assert code == 2 and "field 'judgment.orders[0]': expected an object with \"order\"" in err


def annotation(k: int, preference: object) -> dict:
    return {"instruction": f"question {k}", "output_1": "a" * (k + 1), "output_2": "bb",
            "generator_1": "base", "generator_2": "model", "preference": preference}


def test_convert_alpacaeval_reads_jsonl(tmp_path: Path, monkeypatch, capsys) -> None:
    items = [annotation(k, p) for k, p in enumerate([1.9, 1.2, 1.5, None])]
    as_list = tmp_path / "annotations.json"
    as_list.write_text(json.dumps(items, indent=2), encoding="utf-8")
    as_lines = write_jsonl(tmp_path / "annotations.jsonl", items)
    code, expected, err = run_cli(monkeypatch, capsys, "convert", "alpacaeval", str(as_list))
    assert code == 0, err
    code, out, err = run_cli(monkeypatch, capsys, "convert", "alpacaeval", str(as_lines))
    assert code == 0, err
    assert out == expected and len(out.splitlines()) == 4
    one = write_jsonl(tmp_path / "one.jsonl", items[:1])  # one line is one annotation
    code, out, err = run_cli(monkeypatch, capsys, "convert", "alpacaeval", str(one))
    assert code == 0 and out == expected.splitlines(keepends=True)[0]
    # A bad line is named by its line, as in any JSONL file judgecli reads.
    bad = write_jsonl(tmp_path / "bad.jsonl", [items[0], {**items[1], "generator_2": "x"}])
    code, _, err = run_cli(monkeypatch, capsys, "convert", "alpacaeval", str(bad))
    assert code == 2
    assert f"{bad}:2: field 'generator_2': 'x', but line 1 has 'model'" in err
    (tmp_path / "broken.jsonl").write_text(json.dumps(items[0]) + "\n{oops\n",
                                           encoding="utf-8")
    code, _, err = run_cli(monkeypatch, capsys, "convert", "alpacaeval",
                           str(tmp_path / "broken.jsonl"))
    assert code == 2 and "broken.jsonl:2: not valid JSON" in err


def test_by_a_field_some_files_lack_is_their_none_group(tmp_path: Path, monkeypatch,
                                                        capsys) -> None:
    """Several files: an error only when no record of any file has the field."""
    one = write_jsonl(tmp_path / "one.jsonl", [pair(i, category="c") for i in range(3)])
    two = write_jsonl(tmp_path / "two.jsonl", [pair(i) for i in range(3)])
    code, out, err = run_cli(monkeypatch, capsys, "report", str(one), str(two), "--by",
                             "category", "--json")
    assert code == 0, err
    assert [[g["group"] for g in f["groups"]] for f in json.loads(out)["files"]] == \
        [["c"], ["(none)"]]
    code, _, err = run_cli(monkeypatch, capsys, "report", str(one), str(two), "--by", "topic")
    assert code == 2
    assert f"judgecli: error: {one}, {two}: field 'topic': --by: no record has it" in err
