"""Reading judgment files for the report: bad input is named, --labels, --map, shared ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_report_helpers import record, single, write

from judgecli.errors import InputError, JudgecliError
from judgecli.report import ReportOptions, build_report, read_judgments


def _error(tmp_path: Path, lines: list[str], **options: Any) -> InputError:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        build_report([str(path)], ReportOptions(**options))
    return caught.value


GOOD = json.dumps(record(1, "A", label="A"))


@pytest.mark.parametrize(("line", "field", "words"), [
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "expected a JSON object"),
    ('{"id": 2, "confidence": NaN}', None, "NaN is not valid JSON"),
    (json.dumps({"id": 2, "question": "q"}), "judgment", "missing"),
    (json.dumps(record(2, "A", label=1)), "label", "expected \"A\", \"B\" or \"tie\""),
    (json.dumps(record(2, "A", label="a")), "label", "expected"),
    (json.dumps(record(2, "C")), "judgment.verdict", "expected \"A\", \"B\", \"tie\""),
    (json.dumps(record(2, "A", confidence=1.5)), "judgment.confidence", "probability"),
    (json.dumps(record(2, "A", confidence=True)), "judgment.confidence", "probability"),
    (json.dumps(record(1, "B")), "id", "duplicate id"),
    (json.dumps(record([2], "A")), "id", "expected a string or an integer"),
    (json.dumps(single(2, 7.0)), "judgment", "a single judgment in a file of pair"),
    (json.dumps({"id": 2, "judgment": {"scores": [1, 2], "verdict": None}}), None, None),
    (json.dumps({"id": 2, "judgment": {"score_a": 1}}), "judgment.verdict", "missing"),
])
def test_bad_lines_are_named(tmp_path: Path, line: str, field: str | None,
                             words: str | None) -> None:
    if words is None:  # multi-answer judgments: a clear refusal, not a crash
        error = _error(tmp_path, [GOOD, line])
        assert "multi-answer" in str(error) and error.line == 2
        return
    error = _error(tmp_path, [GOOD, line])
    assert error.line == 2 and error.file.endswith("bad.jsonl")
    assert error.field == field
    assert words in str(error)


def test_bad_orders_and_numeric_label(tmp_path: Path) -> None:
    bad = record(2, "A")
    bad["judgment"]["orders"][1]["order"] = "XY"
    assert _error(tmp_path, [GOOD, json.dumps(bad)]).field == "judgment.orders[1]"
    bad["judgment"]["orders"] = {"AB": "A"}
    assert _error(tmp_path, [GOOD, json.dumps(bad)]).field == "judgment.orders"
    error = _error(tmp_path, [json.dumps(single(1, 5.0, label="A"))])
    assert error.field == "label" and "expected a number" in str(error)


def test_blank_lines_and_bom_are_read(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n\n" +
                     json.dumps(record(2, "B", label="A")).encode() + b"\n")
    (s,) = build_report([str(path)])
    assert s["n"] == 2 and s["agreement"] == 0.5


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        build_report([str(tmp_path / "nope.jsonl")])
    path = write(tmp_path / "j.jsonl", [record(1, "A")])
    with pytest.raises(JudgecliError, match="--errors"):
        build_report([path], ReportOptions(errors="ignore"))
    with pytest.raises(JudgecliError, match="--map cannot set 'winner'"):
        build_report([path], ReportOptions(mapping={"winner": "x"}))
    with pytest.raises(JudgecliError, match="stdin"):
        build_report(["-", "-"])


def test_labels_file_joins_by_id(tmp_path: Path) -> None:
    judged = write(tmp_path / "j.jsonl", [record(i, v, label="tie") for i, v in
                                          enumerate(["A", "B", "A", "tie"])])
    labels = write(tmp_path / "gold.jsonl", [{"id": 0, "label": "A"}, {"id": 1, "label": "A"},
                                             {"id": "2", "label": "A"}, {"id": 9, "label": "B"}])
    (s,) = build_report([judged], ReportOptions(labels=labels))
    # id "2" is not id 2: item 2 keeps its own label "tie"; item 3 keeps "tie" too.
    assert s["confusion"]["counts"] == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0]]
    assert s["agreement"] == pytest.approx(2 / 4)
    bad = write(tmp_path / "gold2.jsonl", [{"id": 0, "label": 3}])
    with pytest.raises(InputError) as caught:
        build_report([judged], ReportOptions(labels=bad))
    assert caught.value.file.endswith("gold2.jsonl") and caught.value.line == 1
    dup = write(tmp_path / "gold3.jsonl", [{"id": 0, "label": "A"}, {"id": 0, "label": "B"}])
    with pytest.raises(InputError, match="duplicate id"):
        build_report([judged], ReportOptions(labels=dup))


def test_numeric_labels_file(tmp_path: Path) -> None:
    judged = write(tmp_path / "j.jsonl", [single(i, float(i)) for i in range(5)])
    labels = write(tmp_path / "gold.jsonl", [{"id": i, "label": i + 1} for i in range(5)])
    (s,) = build_report([judged], ReportOptions(labels=labels))
    assert s["mae"] == 1.0 and s["pearson"] == pytest.approx(1.0)


def test_map_reads_flat_verdict_files(tmp_path: Path) -> None:
    rows = [{"qid": i, "winner": w, "gold": g, "p": 0.8, "out1": "aa", "out2": "b"}
            for i, (w, g) in enumerate([("A", "A"), ("B", "A"), (None, "B"), ("tie", "tie")])]
    path = write(tmp_path / "flat.jsonl", rows)
    mapping = {"id": "qid", "verdict": "winner", "label": "gold", "confidence": "p",
               "answer_a": "out1", "answer_b": "out2"}
    (s,) = build_report([path], ReportOptions(mapping=mapping))
    assert s["n"] == 4 and s["n_failed"] == 1 and s["agreement"] == pytest.approx(2 / 4)
    assert s["longer_wins"] == pytest.approx(1 / 2)  # A (longer) won once, B once
    assert s["consistency"] is None and s["n_confidence"] == 4
    missing = write(tmp_path / "flat2.jsonl", [{"qid": 1}])
    with pytest.raises(InputError, match="missing") as caught:
        build_report([missing], ReportOptions(mapping=mapping))
    assert caught.value.field == "winner"


def test_several_files_use_shared_ids(tmp_path: Path) -> None:
    one = write(tmp_path / "one.jsonl", [record(i, "A", label="A") for i in range(5)])
    two = write(tmp_path / "two.jsonl", [record(i, "B", label="A") for i in range(2, 8)])
    first, second = build_report([one, two])
    assert first["n"] == second["n"] == 3
    assert (first["n_unshared"], second["n_unshared"]) == (2, 3)
    assert first["agreement"] == 1.0 and second["agreement"] == 0.0


def test_columns_are_compact(tmp_path: Path) -> None:
    path = write(tmp_path / "j.jsonl", [record(i, "A", label="B", confidence=0.5,
                                               a="x" * 10_000) for i in range(50)])
    j = read_judgments(path)
    per_item = sum(getattr(j, n).nbytes for n in (
        "ids", "lines", "failed", "verdict", "order_ab", "order_ba", "label", "confidence",
        "longer", "delimited")) / len(j)
    assert per_item <= 27  # the 10,000-character answers are not kept, only which is longer
    assert j.longer.tolist() == [1] * 50


def test_duplicate_ids_name_the_first_repeating_line(tmp_path: Path) -> None:
    """The first line whose id an earlier line had; a file concatenated with itself (every id
    repeated) is named at once, not after comparing each repeated id with every item."""
    from judgecli.report.load import check_unique

    ids = np.array([5, 7, 9, 7, 5, 11], dtype=np.int64)
    with pytest.raises(InputError) as caught:
        check_unique(ids, np.arange(1, 7, dtype=np.int32), "f.jsonl")
    assert caught.value.line == 4 and caught.value.field == "id"
    n = 200_000
    doubled = np.concatenate([np.arange(n), np.arange(n)]).astype(np.int64)
    with pytest.raises(InputError) as caught:
        check_unique(doubled, np.arange(1, 2 * n + 1, dtype=np.int32), "f.jsonl")
    assert caught.value.line == n + 1
