"""Arena-Hard's and MT-Bench's published judgments -> judgment records (``judgecli convert
arenahard`` / ``mtbench``), so that ``judgecli report`` gives their leaderboards' figures.

* ``arenahard``: lmarena/arena-hard-auto's ``data/<bench>/model_judgment/<judge>/<model>.jsonl``
  (a folder of them, or files), one line per question: ``question_id`` (v0.1) or ``uid``
  (v2.0), ``model``, ``games`` = two games, each with its ``score`` (the judge's "[[A>B]]"
  label, null where none was found) and ``judgment`` text. Game 1 shows the baseline as A and
  the model as B, game 2 the model as A (v0.1 ``get_battles_from_judgment``, v2.0
  ``load_judgments``). The baseline is the record's ``baseline`` (v2.0 files), else
  ``--baseline``, else v0.1's default gpt-4-0314. A record is model_a = the baseline,
  model_b = the model, order AB = game 1 and order BA = game 2, each order's ``label5`` in
  those A/B terms (game 2's "A>>B" is "B>>A"); v2.0's reversed spellings ("A<B" = "B>A",
  "B=A" = "A=B", ...) are read as v2.0 reads them (v0.1 would count no battle for them);
  any other label is a failed order with its reason. ``report`` then gives v2.0's score of
  each model against the baseline (per model pair) and, for three models or more, v0.1's
  Bradley-Terry ranking.
* ``mtbench``: lm-sys/FastChat ``fastchat/llm_judge`` ``gen_judgment.py`` output,
  ``data/mt_bench/model_judgment/<judge>_single.jsonl`` or ``<judge>_pair.jsonl``. Single
  lines (``question_id``, ``model``, ``turn``, ``score``; -1 where the judge gave no rating)
  are single-answer grades: ``report --by model`` gives each model's MT-Bench score (the
  mean of its turns' scores without the -1s, ``show_result.py --mode single``'s
  "Average"), ``--by model,turn`` each turn's. Pairwise lines (``model_1``, ``model_2``,
  ``g1_winner``, ``g2_winner`` in model_1/model_2 terms, "tie" or "error") are model_a =
  model_1, order AB = g1, BA = g2, combined by the strict rule (a winner only when both
  games agree, else a tie), as ``show_result.py --mode pairwise-*`` counts them; an "error"
  game fails the item, which ``--errors wrong`` (the default) leaves out of the win rate,
  as FastChat drops the row. The win rate of A (ties half) per pair is FastChat's
  ``win_rate_adjusted`` of model_1 against model_2.

Every record's ``id`` is unique in the output (question, turn, models), with the question
alone in ``prompt_id``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.jsonl import iter_lines
from ..judging.debias import OrderResult, combine

LABELS5 = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
REVERSED = {"A<<B": "B>>A", "A<B": "B>A", "B=A": "A=B", "B<<A": "A>>B", "B<A": "A>B"}
SWAP5 = dict(zip(LABELS5, reversed(LABELS5), strict=True))
DIRECTION = {"A>>B": "A", "A>B": "A", "A=B": "tie", "B>A": "B", "B>>A": "B"}
V01_BASELINE = "gpt-4-0314"
_PROMPT, _A, _A_END = "<|User Prompt|>\n", "<|The Start of Assistant A's Answer|>\n", \
    "\n<|The End of Assistant A's Answer|>"
_B, _B_END = "<|The Start of Assistant B's Answer|>\n", "\n<|The End of Assistant B's Answer|>"


def _judgment(judge: str, template: str, orders: list[OrderResult]) -> dict[str, Any]:
    combined = combine(orders, "strict")
    return {"judge": judge, "template": template, "mode": "explain",
            "verdict": combined.verdict, "confidence": combined.confidence,
            "consistent": combined.consistent, "orders": [o.to_json() for o in orders],
            "error": combined.error}


def _required(row: dict[str, Any], key: str, path: str, line: int) -> Any:
    if key not in row or row[key] is None:
        raise InputError("missing", file=path, line=line, field=key)
    return row[key]


def _between(text: Any, start: str, end: str) -> str | None:
    if not isinstance(text, str) or start not in text:
        return None
    head = text.index(start) + len(start)
    tail = text.find(end, head)
    return text[head:tail] if tail >= 0 else None


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        files = sorted(str(p) for p in Path(path).glob("*.jsonl"))
        if not files:
            raise InputError("no .jsonl files in this folder (Arena-Hard's "
                             "model_judgment/<judge>/ holds one per model)", file=path)
        return files
    if not os.path.isfile(path):
        raise InputError("no such file or folder", file=path)
    return [path]


def _arena_game(game: Any, k: int, order: str, path: str, line: int) -> OrderResult:
    if not isinstance(game, dict):
        raise InputError(f"expected an object, got {type(game).__name__}", file=path,
                         line=line, field=f"games[{k}]")
    raw = game.get("score")
    label = REVERSED.get(raw, raw) if isinstance(raw, str) else None
    text = game.get("judgment") if isinstance(game.get("judgment"), str) else None
    if label not in DIRECTION:
        return OrderResult(order=order, text=text,
                           error="no verdict (score null)" if raw is None
                           else f"not a five-level verdict: {raw!r}")
    assert label is not None
    label5 = label if order == "AB" else SWAP5[label]
    return OrderResult(order=order, text=text, verdict=DIRECTION[label5], label5=label5)


def arenahard(path: str, baseline: str | None = None,
              judge: str | None = None) -> Iterator[dict[str, Any]]:
    for file in _files(path):
        for line, row in iter_lines(file):
            qid = row.get("question_id", row.get("uid"))
            if qid is None:
                raise InputError("missing (question_id, or uid in v2.0 files)", file=file,
                                 line=line, field="question_id")
            model = _required(row, "model", file, line)
            games = _required(row, "games", file, line)
            if not isinstance(games, list) or not 1 <= len(games) <= 2:
                raise InputError("expected a list of one or two games", file=file,
                                 line=line, field="games")
            base = baseline or row.get("baseline") or V01_BASELINE
            orders = [_arena_game(g, k, ("AB", "BA")[k], file, line)
                      for k, g in enumerate(games)]
            shown = games[0].get("user_prompt") if isinstance(games[0], dict) else None
            record: dict[str, Any] = {
                "id": f"{qid}|{model}", "prompt_id": qid,
                "question": _between(shown, _PROMPT, "\n\n" + _A),
                "answer_a": _between(shown, _A, _A_END), "answer_b": _between(shown, _B, _B_END),
                "model_a": base, "model_b": model}
            if "category" in row:
                record["category"] = row["category"]
            record["judgment"] = _judgment(judge or str(row.get("judge") or "arena-hard"),
                                           "arena-hard", orders)
            yield record


_WINNER = {"model_1": "A", "model_2": "B", "tie": "tie"}


def _mt_game(winner: Any, text: Any, order: str) -> OrderResult:
    verdict = _WINNER.get(winner) if isinstance(winner, str) else None
    text = text if isinstance(text, str) else None
    if verdict is None:
        return OrderResult(order=order, text=text, error=f"no verdict: {winner!r}")
    return OrderResult(order=order, text=text, verdict=verdict)


def _judge_name(value: Any) -> tuple[str, str]:
    """FastChat's ``judge``: [model, prompt name]."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    return (value if isinstance(value, str) else "mt-bench"), "mt-bench"


def mtbench(path: str, judge: str | None = None) -> Iterator[dict[str, Any]]:
    kind: tuple[str, int] | None = None
    for line, row in iter_lines(path):
        qid = _required(row, "question_id", path, line)
        turn = row.get("turn", 1)
        this = "pair" if "model_1" in row else "single"
        if kind is None:
            kind = (this, line)
        elif kind[0] != this:
            raise InputError(f"a {this} judgment, while line {kind[1]} is a {kind[0]} one: "
                             "convert single and pairwise files apart", file=path, line=line)
        judge_model, prompt = _judge_name(row.get("judge"))
        if this == "single":
            model = _required(row, "model", path, line)
            score = row.get("score")
            error = None
            if isinstance(score, bool) or not isinstance(score, (int, float)) or \
                    (isinstance(score, float) and math.isnan(score)):
                error, score = f"score {score!r} is not a number", None
            elif score == -1:
                error, score = "score -1: the judge gave no rating (FastChat's mark)", None
            yield {"id": f"{qid}|{turn}|{model}", "prompt_id": qid, "turn": turn,
                   "model": model, "question": _between(row.get("user_prompt"),
                                                        "[Question]\n", "\n\n"),
                   "judgment": {"judge": judge or judge_model, "template": prompt,
                                "mode": "score", "score": score, "error": error}}
            continue
        model_1 = _required(row, "model_1", path, line)
        model_2 = _required(row, "model_2", path, line)
        orders = [_mt_game(row.get("g1_winner"), row.get("g1_judgment"), "AB"),
                  _mt_game(row.get("g2_winner"), row.get("g2_judgment"), "BA")]
        yield {"id": f"{qid}|{turn}|{model_1}|{model_2}", "prompt_id": qid, "turn": turn,
               "model_a": model_1, "model_b": model_2,
               "judgment": _judgment(judge or judge_model, prompt, orders)}
