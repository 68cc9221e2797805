"""``judgecli compare A B [C ...]``: is model B better than model A on these prompts?

Joins the answer files prompt by prompt (``answers``), judges every pair of models with the
chosen judge and template through the same pipeline as ``judgecli judge`` (swap on by
default, resumable output), and summarises with ``judgecli report``'s statistics: per model
pair, the wins, ties and losses of the second model, its win rate with a 95% bootstrap
interval, the sign test, consistency and length bias, per category where one exists. With
more than two files it adds a Bradley-Terry ranking (``ranking``). Judgments that carry
AlpacaEval's preference (1 + P(B better)) add its figures (``report/alpacaeval.py``), which
already speak for B; so do Arena-Hard's from five-level verdicts (``report/arenahard.py``),
whose ranking, with more than two files, takes the first file's model as the baseline.
``--style-control`` adds Arena-Hard v2.0's style-controlled fit (``report/style.py``) of the
games against the first file's model.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..backends.base import Judge
from ..errors import InputError
from ..judging.runner import JudgeOptions, RunSummary, judge_file
from .answers import Answer, JoinError, join, read_answers, read_questions
from .ranking import bradley_terry

__all__ = ["CompareOptions", "CompareResult", "JoinError", "Pairs", "build_pairs", "compare",
           "pairs_file"]

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Pairs:
    """The joined answer files: one judge input record per prompt and model pair."""

    models: list[str]
    records: list[dict[str, Any]]
    n_prompts: int
    rejected: dict[str, int] = field(default_factory=dict)  # --skip-invalid: file -> lines
    n_left_out: int = 0  # prompts not in every file (--allow-missing, --skip-invalid)

    @property
    def has_reference(self) -> bool:
        return bool(self.records) and all("reference" in r for r in self.records)


@contextmanager
def pairs_file(pairs: Pairs) -> Iterator[str]:
    """The pairs as a judge input file (JSONL), for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="judgecli-compare-") as tmp:
        path = os.path.join(tmp, "pairs.jsonl")
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in pairs.records)
        yield path


@dataclass(frozen=True)
class CompareOptions:
    judge: JudgeOptions
    output: str | None = None
    resume: bool = False
    force: bool = False
    seed: int = 0
    progress: bool = True
    skip_invalid: bool = False
    style_control: bool = False  # Arena-Hard v2.0's style control, the first model baseline


@dataclass
class CompareResult:
    models: list[str]
    pairs: list[dict[str, Any]]  # one summary per model pair (report figures, B's view)
    ranking: list[dict[str, Any]] | None
    run: RunSummary
    n_prompts: int
    judge: str | None = None  # as the judgments name them (a panel: "panel (majority)")
    template: str | None = None
    arenahard_ranking: list[dict[str, Any]] | None = None  # five-level verdicts only
    style_control: dict[str, Any] | None = None  # --style-control (report/style.py)


def build_pairs(files: Sequence[str], *, mapping: dict[str, str] | None = None,
                questions: str | None = None, allow_missing: bool = False,
                skip_invalid: bool = False) -> Pairs:
    """Read and join the files; one judge input record per prompt and model pair.
    ``skip_invalid``: bad records go to FILE.rejected.jsonl (as ``judge --skip-invalid``
    writes them) and their prompts are left out of the comparison."""
    if len(files) < 2:
        raise JoinError("compare needs at least two answer files")
    by_id = read_questions(questions) if questions else None
    rejected: dict[str, int] = {}
    answers = [read_answers(f, mapping, by_id, rejects=_rejects(f, rejected)
                            if skip_invalid else None) for f in files]
    allow_missing = allow_missing or bool(rejected)
    models = [_model_name(file_answers, path)
              for file_answers, path in zip(answers, files, strict=True)]
    if len(set(models)) < len(models):
        models = [f"{m} ({os.path.basename(p)})" for m, p in zip(models, files, strict=True)]
    keys, keyed = join(list(files), answers, allow_missing=allow_missing)
    every = len(set().union(*(set(m) for m in keyed)))
    # A prompt's reference and category belong to the prompt: take them from any file.
    shared = {key: {k: v for m in reversed(keyed) for k, v in m[key].extra.items()}
              for key in keys}
    records = []
    for (i, a), (j, b) in itertools.combinations(enumerate(models), 2):
        for key in keys:
            first, second = keyed[i][key], keyed[j][key]
            record: dict[str, Any] = {
                "id": key if len(models) == 2 else f"{key}|{a}|{b}",
                "question": first.question if first.question is not None else second.question,
                "answer_a": first.answer, "answer_b": second.answer,
                "model_a": a, "model_b": b,
            }
            if len(models) > 2:
                record["prompt_id"] = key
            record.update(shared[key])
            records.append(record)
    return Pairs(models=models, records=records, n_prompts=len(keys), rejected=rejected,
                 n_left_out=every - len(keys))


def _rejects(path: str, counts: dict[str, int]) -> Callable[[int, str, InputError], None]:
    """A sink for ``path``'s bad records, opened at the first one."""
    from ..io.jsonl import dumps
    from ..io.rejects import rejected_path

    def reject(line: int, raw: str, error: InputError) -> None:
        counts[path] = counts.get(path, 0) + 1
        with open(rejected_path(path), "w" if counts[path] == 1 else "a",
                  encoding="utf-8") as handle:
            handle.write(dumps({"line": line, "error": error.reason, "field": error.field,
                                "raw": raw}) + "\n")
    return reject


def _model_name(answers: list[Answer], path: str) -> str:
    names = {a.model for a in answers}
    return names.pop() if len(names) == 1 else os.path.splitext(os.path.basename(path))[0]


def compare(pairs: Pairs, judge: Judge, options: CompareOptions,
            judging: Any = None) -> CompareResult:
    """Judge every pair and summarise; the records go to ``options.output`` if given.
    ``judging``: a panel (or anything with ``judge_items``) to judge with instead."""
    from ..report import ReportOptions, build_report

    models, records = pairs.models, pairs.records
    with pairs_file(pairs) as pairs_path:
        output = options.output or os.path.join(os.path.dirname(pairs_path), "judged.jsonl")
        run = judge_file(pairs_path, output, judge, options.judge, resume=options.resume,
                         force=options.force, progress=options.progress, judging=judging,
                         skip_invalid=options.skip_invalid)
        has_category = any("category" in r for r in records)
        # The first file's model is Arena-Hard's baseline (every pair's A, or not in it).
        pair_report = build_report([output], ReportOptions(
            by=("model_a", "model_b"), seed=options.seed, style_control=options.style_control,
            baseline=models[0] if len(models) > 2 or options.style_control else None))[0]
        category_report = build_report(
            [output], ReportOptions(by=("model_a", "model_b", "category"),
                                    seed=options.seed))[0] if has_category else None
        games = _games(output) if len(models) > 2 else []
    summaries = _pair_summaries(pair_report, category_report, models)
    ranking = bradley_terry(models, games, seed=options.seed) if len(models) > 2 else None
    own = next((row for row in pair_report.get("judges") or []
                if row["source"] == "judgment" and row["group"] is None), {})
    return CompareResult(models=models, pairs=summaries, ranking=ranking, run=run,
                         n_prompts=pairs.n_prompts, judge=own.get("judge"),
                         template=own.get("template") or options.judge.template.name,
                         arenahard_ranking=pair_report.get("arenahard_ranking"),
                         style_control=pair_report.get("style_control"))


def _flip(figures: dict[str, Any]) -> dict[str, Any]:
    """Report's figures are A's view (answer_a = the first model); compare speaks for B."""
    out = {k: figures.get(k) for k in ("n", "ties", "tie_rate", "consistency", "position_bias",
                                       "error_rate", "sign_test_p", "longer_wins")}
    out["wins"], out["losses"] = figures.get("losses"), figures.get("wins")
    rate, ci = figures.get("win_rate"), figures.get("win_rate_ci")
    out["win_rate"] = None if rate is None else 1.0 - rate
    out["win_rate_ci"] = None if ci is None else [1.0 - ci[1], 1.0 - ci[0]]
    p = out["sign_test_p"]
    out["significant"] = None if p is None else bool(p < SIGNIFICANCE)
    from ..report.alpacaeval import ALPACAEVAL_KEYS  # the report is loaded by now
    from ..report.arenahard import PAIR_KEYS

    out.update({k: figures.get(k) for k in ALPACAEVAL_KEYS})  # B's view already
    out.update({k: figures.get(k) for k in PAIR_KEYS})  # so are these
    return out


def _pair_summaries(pair_report: dict[str, Any], category_report: dict[str, Any] | None,
                    models: list[str]) -> list[dict[str, Any]]:
    # report names a group by its fields' values joined with " / ".
    by_name = {g["group"]: g for g in pair_report.get("groups") or []}
    pairs = []
    for a, b in itertools.combinations(models, 2):
        summary: dict[str, Any] = {"model_a": a, "model_b": b, "win_rate_of": b,
                                   **_flip(by_name.get(f"{a} / {b}", {}))}
        if category_report is not None:
            prefix = f"{a} / {b} / "
            summary["categories"] = [
                {"category": g["group"][len(prefix):], **_flip(g)}
                for g in category_report.get("groups") or [] if g["group"].startswith(prefix)]
        pairs.append(summary)
    return pairs


def _games(path: str) -> list[tuple[str, str, float, Any]]:
    games = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            verdict = record["judgment"]["verdict"]
            if verdict is None:
                continue
            outcome = {"A": 1.0, "B": 0.0, "tie": 0.5}[verdict]
            games.append((record["model_a"], record["model_b"], outcome,
                          record.get("prompt_id", record["id"])))
    return games
