"""Published judges' result files -> judgment records that ``judgecli report`` reads.

    judgecli convert pandalm testset-v1.json pandalm-7b-testset-v1.json > p.jsonl
    judgecli convert llmbar natural.gpt4-vanilla.json > llmbar.jsonl
    judgecli convert judgelm judged.jsonl --reversed judged-rev.jsonl \\
        --gt judgelm_val_5k_gpt4.jsonl > judgelm.jsonl
    judgecli convert alpacaeval annotations.json > model.jsonl
    judgecli convert arenahard model_judgment/gpt-4-1106-preview > arena.jsonl
    judgecli convert mtbench gpt-4_single.jsonl > mt.jsonl
    judgecli report p.jsonl

(``python -m judgecli.report.convert`` takes the same arguments.)

Formats (a value outside the format is a failed judgment with its reason, never a tie):

* ``pandalm``: WeOpenML/PandaLM ``data/testset-v1.json`` (``annotator1..3``: 0 tie, 1 =
  response1 better, 2 = response2 better; the gold label is their majority, as
  ``data/compute_metrics.py`` takes it) and a result file by ``idx`` (``pandalm_result``
  0/1/2 or ``gpt_result`` "1"/"2"/"Tie"; PandaLM's script counts anything else, such as
  "garbage", as a tie; use ``--errors tie`` for its figures).
* ``llmbar``: princeton-nlp/LLMBar ``<set>.<evaluator>.json``: ``output_1``/``output_2``,
  ``label`` 1 or 2 and ``results`` (a list, or its Python-literal string) whose
  ``swap = False`` / ``swap = True`` winners are already in the original order.
* ``judgelm``: baaivision/JudgeLM ``gen_model_judgement.py`` output (``pred_text`` whose
  first line is "s1 s2"), optionally the run with answers reversed (``--reversed``; its
  ``answer1_body`` is the original answer 2) and the GPT-4 reference judgments (``--gt``,
  ``text`` parsed the same way; an unparseable one gives no label, as JudgeLM filters it).
* ``alpacaeval``: tatsu-lab/alpaca_eval ``results/<model>/<annotator>/annotations.json``, one
  model's (a JSON list, or JSONL: one annotation a line, as pandas' ``to_json(orient=
  "records", lines=True)`` writes it; ``instruction``, ``output_1`` the baseline, ``output_2``
  the model, ``generator_1``/``generator_2`` where present, ``preference`` = 1 + P(output_2
  better)).
  answer_a is the baseline, answer_b the model. The verdict is AlpacaEval's discrete rule
  (``metrics/winrate.py``): preference > 1.5 B, < 1.5 A, exactly 1.5 a tie; the preference is
  kept (``judgment.preference``, for the report's AlpacaEval figures) with the verdict's
  probability as ``confidence``. A preference that is null, NaN, not a number or outside
  [1, 2] is a failed judgment with its reason. The order shown to the judge was randomised
  and is not recorded, so there is no ``orders``. ``id``: the first 16 hex digits of the
  instruction's SHA-1 (``#2``... for a repeat), so different models' files share ids.

* ``arenahard`` and ``mtbench``: Arena-Hard's ``model_judgment`` files and MT-Bench's
  (FastChat) ``*_judgment`` files, described in ``convert_lmsys``.

Both orders combine with the strict rule of ``judgecli judge`` (a winner only when both
orders agree), and each order is kept, so consistency and position bias can be reported.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, JudgecliError
from ..io.jsonl import dumps, iter_lines, read_json_list
from ..judging.debias import OrderResult, combine, map_back
from ..parsers import Parsed, ParseFailure, parse_scores
from . import convert_lmsys

_PANDALM_CODES = {"0": "tie", "1": "A", "2": "B", "tie": "tie"}
MISSING_VALUE: Any = object()
ANNOTATION_KEYS = ("instruction", "output_1", "output_2", "preference")  # AlpacaEval's


def _field(row: dict[str, Any], key: str, file: str, number: int) -> Any:
    if key not in row:
        raise InputError(f"item {number}: missing", file=file, field=key)
    return row[key]


def _judgment(judge: str, template: str, orders: list[OrderResult]) -> dict[str, Any]:
    combined = combine(orders, "strict")
    return {"judge": judge, "template": template, "mode": "explain",
            "verdict": combined.verdict, "score_a": combined.score_a,
            "score_b": combined.score_b, "confidence": combined.confidence,
            "consistent": combined.consistent, "orders": [o.to_json() for o in orders],
            "error": combined.error}


def pandalm_verdict(value: Any) -> str | None:
    """PandaLM's result code as a verdict; None when it is not one (e.g. "garbage")."""
    return _PANDALM_CODES.get(str(value).strip().lower())


def majority(votes: list[Any]) -> Any:
    """The most frequent vote; ties go to the vote seen first, as PandaLM's
    ``get_majority_vote`` (``max`` over an insertion-ordered dict) does."""
    return Counter(votes).most_common(1)[0][0]


def pandalm(testset: str, results: str, judge: str | None = None) -> Iterator[dict[str, Any]]:
    items = read_json_list(testset)
    by_idx: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(read_json_list(results), start=1):
        by_idx[str(_field(row, "idx", results, number))] = row
    judge = judge or Path(results).name.removesuffix("-testset-v1.json")
    for number, item in enumerate(items, start=1):
        idx = _field(item, "idx", testset, number)
        if str(idx) not in by_idx:
            raise InputError(f"no result for idx {idx!r}", file=results, field="idx")
        row = by_idx.pop(str(idx))
        key = "pandalm_result" if "pandalm_result" in row else "gpt_result"
        raw = _field(row, key, results, number)
        votes = [_field(item, f"annotator{k}", testset, number) for k in (1, 2, 3)]
        label = pandalm_verdict(majority([str(v) for v in votes]))
        if label is None:
            raise InputError(f"item {number}: annotator labels {votes!r} are not 0, 1, 2",
                             file=testset, field="annotator1")
        verdict = pandalm_verdict(raw)
        reason = row.get("pandalm_reason", row.get("gpt_reason"))
        order = OrderResult(order="AB", text=reason, verdict=verdict,
                            error=None if verdict else f"unparseable: {raw!r}")
        yield {"id": idx, "question": item.get("instruction"), "input": item.get("input"),
               "answer_a": item.get("response1"), "answer_b": item.get("response2"),
               "label": label, "cmp_key": item.get("cmp_key"),
               "motivation_app": item.get("motivation_app"),
               "judgment": _judgment(judge, "pandalm", [order])}
    if by_idx:
        raise InputError(f"results for idx {next(iter(by_idx))!r} not in {testset}",
                         file=results, field="idx")


def _llmbar_order(name: str, entry: Any) -> OrderResult:
    order = "AB" if name == "swap = False" else "BA"
    winner = entry.get("winner") if isinstance(entry, dict) else None
    verdict = {"1": "A", "2": "B"}.get(str(winner))
    completion = entry.get("completion") if isinstance(entry, dict) else None
    text = completion[0] if isinstance(completion, list) and completion else None
    return OrderResult(order=order, text=text if isinstance(text, str) else None,
                       verdict=verdict, error=None if verdict else f"no winner: {winner!r}")


def llmbar(path: str, judge: str | None = None) -> Iterator[dict[str, Any]]:
    name = Path(path).name
    subset, _, evaluator = name.removesuffix(".json").partition(".")
    for number, item in enumerate(read_json_list(path), start=1):
        results = _field(item, "results", path, number)
        if isinstance(results, str):
            try:
                results = ast.literal_eval(results)
            except (ValueError, SyntaxError):
                raise InputError(f"item {number}: not a Python literal", file=path,
                                 field="results") from None
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise InputError(f"item {number}: expected a list of results", file=path,
                             field="results")
        orders = [_llmbar_order(key, results[0][key])
                  for key in ("swap = False", "swap = True") if key in results[0]]
        label = {"1": "A", "2": "B"}.get(str(_field(item, "label", path, number)))
        yield {"id": f"{subset}/{number}", "set": subset, "question": item.get("input"),
               "answer_a": item.get("output_1"), "answer_b": item.get("output_2"),
               "label": label, "judgment": _judgment(judge or evaluator or "llmbar",
                                                     "llmbar", orders)}


def _judgelm_parse(text: Any) -> Parsed | None:
    try:
        return parse_scores(text, 2) if isinstance(text, str) else None
    except ParseFailure:
        return None


def _judgelm_rows(path: str) -> dict[Any, dict[str, Any]]:
    rows = {}
    for line, row in iter_lines(path):
        if "question_id" not in row:
            raise InputError("missing", file=path, line=line, field="question_id")
        rows[row["question_id"]] = row
    return rows


def judgelm(path: str, reversed_path: str | None = None, gt: str | None = None,
            judge: str = "judgelm") -> Iterator[dict[str, Any]]:
    flipped = _judgelm_rows(reversed_path) if reversed_path else {}
    golds = _judgelm_rows(gt) if gt else {}
    for line, row in iter_lines(path):
        qid = row.get("question_id")
        orders = []
        for order, source in (("AB", row), ("BA", flipped.get(qid))):
            if order == "BA" and not reversed_path:
                continue
            if source is None:
                raise InputError(f"question_id {qid!r} is not in {reversed_path}", file=path,
                                 line=line, field="question_id")
            text = source.get("pred_text")
            parsed = _judgelm_parse(text)
            orders.append(map_back(order, parsed, str(text), None) if parsed else OrderResult(
                order=order, text=text, error=f"unparseable: {str(text)[:80]!r}"))
        label = None
        if gt:
            if qid not in golds:
                raise InputError(f"question_id {qid!r} is not in {gt}", file=path, line=line,
                                 field="question_id")
            parsed = _judgelm_parse(golds[qid].get("text"))
            label = parsed.verdict if parsed else None
        yield {"id": qid, "question": row.get("question_body"),
               "answer_a": row.get("answer1_body"), "answer_b": row.get("answer2_body"),
               "label": label, "judgment": _judgment(judge, "judgelm-pair", orders)}


def alpacaeval_preference(value: Any) -> tuple[float | None, str | None]:
    """(preference, None), or (None, why it is not one) for a failed judgment."""
    if value is None:
        return None, "no preference (null): the annotation failed"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"preference {value!r} is not a number"
    if math.isnan(value):
        return None, "no preference (NaN): the annotation failed"
    if value == 0:
        # AlpacaEval's old encoding of a draw: its metrics read 0 as 1.5 (metrics/helpers.py
        # ``describe_head2head``, glm_winrate.py: ``replace({0.0: 1.5})``)
        return 1.5, None
    if not 1.0 <= value <= 2.0:
        return None, f"preference {value!r} is outside [1, 2]"
    return float(value), None


def alpacaeval_verdict(preference: float) -> tuple[str, float]:
    """AlpacaEval's discrete outcome (tatsu-lab/alpaca_eval metrics/winrate.py: a win above
    1.5, a draw at exactly 1.5) and the probability of that verdict (P(B better) = p - 1)."""
    if preference > 1.5:
        return "B", preference - 1.0
    if preference < 1.5:
        return "A", 2.0 - preference
    return "tie", 0.5


def _is_jsonl(path: str) -> bool:
    """Whether a file is JSONL (objects one a line, or one annotation alone) rather than one
    JSON value, as AlpacaEval writes annotations.json (a list; anything else that is one
    value is refused as before, by ``read_json_list``)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig").lstrip()
        first, end = json.JSONDecoder().raw_decode(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return False  # read_json_list says what is wrong
    if not isinstance(first, dict):
        return False
    return bool(text[end:].strip()) or all(key in first for key in ANNOTATION_KEYS)


def _annotations(path: str) -> Iterator[tuple[int | None, str, str, dict[str, Any]]]:
    """Each annotation with where it is: (line for a message, the field's prefix, what a
    message calls it, the annotation): a JSON list's ``[index].``, a JSONL file's line."""
    if _is_jsonl(path):
        for line, item in iter_lines(path):
            yield line, "", f"line {line}", item
    else:
        for index, item in enumerate(read_json_list(path)):
            yield None, f"[{index}].", f"index {index}", item


def alpacaeval(path: str, judge: str | None = None) -> Iterator[dict[str, Any]]:
    seen: Counter[str] = Counter()
    model: tuple[str, Any] | None = None
    for line, prefix, where, item in _annotations(path):
        for key in ANNOTATION_KEYS:
            value = item.get(key, MISSING_VALUE)
            if value is MISSING_VALUE:
                raise InputError("missing", file=path, line=line, field=prefix + key)
            if key != "preference" and not isinstance(value, str):
                raise InputError(f"expected text, got {type(value).__name__}", file=path,
                                 line=line, field=prefix + key)
        if "generator_2" in item:
            if model is None:
                model = (where, item["generator_2"])
            elif item["generator_2"] != model[1]:
                raise InputError(f"{item['generator_2']!r}, but {model[0]} has "
                                 f"{model[1]!r}: convert one model's annotations per file",
                                 file=path, line=line, field=prefix + "generator_2")
        digest = hashlib.sha1(item["instruction"].encode("utf-8")).hexdigest()[:16]
        seen[digest] += 1
        preference, error = alpacaeval_preference(item["preference"])
        verdict, confidence = alpacaeval_verdict(preference) if preference is not None \
            else (None, None)
        record = {"id": digest if seen[digest] == 1 else f"{digest}#{seen[digest]}",
                  "question": item["instruction"], "answer_a": item["output_1"],
                  "answer_b": item["output_2"]}
        record.update({k: item[v] for k, v in (("model_a", "generator_1"),
                                                ("model_b", "generator_2"),
                                                ("dataset", "dataset")) if v in item})
        record["judgment"] = {
            "judge": judge or item.get("annotator") or "alpacaeval", "template": "alpacaeval",
            "mode": "score", "verdict": verdict, "preference": preference,
            "confidence": confidence, "error": error}
        yield record


def main(argv: list[str] | None = None) -> int:
    doc = __doc__.replace("``", "")
    parser = argparse.ArgumentParser(
        prog="judgecli convert", description=doc.split("\n\n")[0],
        epilog="examples:\n" + textwrap.indent(textwrap.dedent(doc.split("\n\n")[1]), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="FORMAT")
    judge = "the judge name written in each record (default: %s)"
    p = kinds.add_parser("pandalm", help="PandaLM test set + a result file",
                         description="WeOpenML/PandaLM's test set and one judge's results.")
    p.add_argument("testset", metavar="TESTSET", help="data/testset-v1.json (gold labels)")
    p.add_argument("results", metavar="RESULTS",
                   help="a result file, by idx (pandalm_result or gpt_result)")
    p.add_argument("--judge", metavar="NAME", help=judge % "the result file's name")
    p = kinds.add_parser("llmbar", help="LLMBar <set>.<evaluator>.json files",
                         description="princeton-nlp/LLMBar's evaluation outputs.")
    p.add_argument("files", nargs="+", metavar="FILE", help="<set>.<evaluator>.json")
    p.add_argument("--judge", metavar="NAME", help=judge % "the file's evaluator")
    p = kinds.add_parser("judgelm", help="JudgeLM judgment file(s)",
                         description="baaivision/JudgeLM's gen_model_judgement.py output.")
    p.add_argument("pred", metavar="PRED", help="the judgments (pred_text \"s1 s2\" first)")
    p.add_argument("--reversed", metavar="FILE",
                   help="the run with the answers reversed, for both orders")
    p.add_argument("--gt", metavar="FILE",
                   help="GPT-4's reference judgments, for the gold labels")
    p.add_argument("--judge", metavar="NAME", default="judgelm", help=judge % "judgelm")
    p = kinds.add_parser("alpacaeval", help="one model's AlpacaEval annotations.json",
                         description="tatsu-lab/alpaca_eval's annotations of one model.")
    p.add_argument("annotations", metavar="ANNOTATIONS",
                   help="results/<model>/<annotator>/annotations.json (a JSON list), "
                        "or the same annotations as JSONL")
    p.add_argument("--judge", metavar="NAME", help=judge % "the file's annotator")
    p = kinds.add_parser("arenahard", help="Arena-Hard model_judgment/<judge>/ files",
                         description="lmarena/arena-hard-auto's judgments of models against "
                                     "its baseline, one <model>.jsonl each (v0.1 or v2.0).")
    p.add_argument("judgments", metavar="DIR", nargs="+",
                   help="model_judgment/<judge>/ (its *.jsonl) or <model>.jsonl files")
    p.add_argument("--baseline", metavar="MODEL",
                   help="the model shown as A in game 1 (default: each record's baseline "
                        f"field, else {convert_lmsys.V01_BASELINE}, v0.1's)")
    p.add_argument("--judge", metavar="NAME", help=judge % "the record's judge")
    p = kinds.add_parser("mtbench", help="MT-Bench (FastChat) *_single / *_pair.jsonl",
                         description="lm-sys/FastChat llm_judge's judgments: single-answer "
                                     "grades or pairwise games.")
    p.add_argument("judgments", metavar="FILE", nargs="+",
                   help="data/mt_bench/model_judgment/<judge>_single.jsonl or _pair.jsonl")
    p.add_argument("--judge", metavar="NAME", help=judge % "the record's judge model")
    args = parser.parse_args(argv)
    try:
        if args.kind == "pandalm":
            records: Iterator[dict[str, Any]] = pandalm(args.testset, args.results, args.judge)
        elif args.kind == "llmbar":
            records = (r for f in args.files for r in llmbar(f, args.judge))
        elif args.kind == "alpacaeval":
            records = alpacaeval(args.annotations, args.judge)
        elif args.kind == "arenahard":
            records = (r for f in args.judgments
                       for r in convert_lmsys.arenahard(f, args.baseline, args.judge))
        elif args.kind == "mtbench":
            records = (r for f in args.judgments for r in convert_lmsys.mtbench(f, args.judge))
        else:
            records = judgelm(args.pred, args.reversed, args.gt, args.judge)
        for record in records:
            sys.stdout.write(dumps(record) + "\n")
    except JudgecliError as exc:
        print(f"judgecli: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
