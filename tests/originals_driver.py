"""Runs inside the originals' own environment (``JUDGECLI_ORIGINALS_PYTHON``: a Python with
``prometheus-eval==0.1.20`` and ``alpaca-eval==0.6.6`` installed from PyPI with their
dependencies; ``.ci/originals.sh`` builds it) and answers for the installed packages
themselves: ``python originals_driver.py TASK < request.json > answer.json``.

It imports neither judgecli nor pytest: what it returns is what the published code computes.
Exceptions the originals raise are returned as ``{"raises": "ValueError: ..."}`` per case.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from typing import Any


def _each(cases: list[Any], call: Any) -> list[Any]:
    out = []
    for case in cases:
        try:
            out.append(call(case))
        except Exception as exc:  # the original crashes on this case: say how
            out.append({"raises": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return out


def versions(_: Any) -> dict[str, str]:
    import alpaca_eval
    import prometheus_eval
    return {"prometheus-eval": prometheus_eval.__version__, "alpaca-eval": alpaca_eval.__version__}


def prometheus_parse(request: dict[str, Any]) -> list[Any]:
    """parser.py parse_output on each text, in each mode: the score or letter, or None."""
    from prometheus_eval.parser import parse_output

    return [{mode: _each([text], lambda t, m=mode: parse_output(t, m)[1])[0]
             for mode in ("absolute", "relative")} for text in request["texts"]]


class _Scripted:
    """A model PrometheusEval accepts (its mock interface, ``validate_mockllm``) that records
    each batch of inputs it is sent and answers each input with the next reply scripted for
    it (the input's index in the first batch decides which script)."""

    def __init__(self, scripts: list[list[str]]) -> None:
        self.scripts = [list(s) for s in scripts]
        self.batches: list[list[Any]] = []
        self.first: list[Any] | None = None
        self.asked = [0] * len(scripts)  # how many times each input was sent

    def validate_mockllm(self) -> bool:
        return True

    def completions(self, inputs: list[Any], **_: Any) -> list[str]:
        self.batches.append(list(inputs))
        if self.first is None:
            self.first = list(inputs)
        out = []
        for one in inputs:
            script = self.scripts[self.first.index(one)]
            self.asked[self.first.index(one)] += 1
            out.append(script.pop(0) if len(script) > 1 else script[0])
        return out


def prometheus_grade(request: dict[str, Any]) -> dict[str, Any]:
    """PrometheusEval.absolute_grade / relative_grade as a user calls them, on a model that
    records what it is sent: the messages of each input, the one prompt judge.py builds for a
    vLLM judge from them (``_get_conversation_prompt``), each batch's size (its re-sampling),
    and the feedbacks and scores it returns."""
    from prometheus_eval import PrometheusEval
    from prometheus_eval.prompts import get_prompt_template

    items, mode = request["items"], request["mode"]
    with_ref = any(i.get("reference") is not None for i in items)
    model = _Scripted(request.get("scripts") or [["[RESULT] 3" if mode == "absolute"
                                                   else "[RESULT] A"]] * len(items))
    template = get_prompt_template(mode, with_ref)
    judge = PrometheusEval(model=model, absolute_grade_template=template,
                           relative_grade_template=template)
    refs = [i.get("reference") for i in items] if with_ref else None
    with contextlib.redirect_stdout(sys.stderr):  # it prints its progress
        if mode == "absolute":
            feedbacks, scores = judge.absolute_grade(
                instructions=[i["question"] for i in items],
                responses=[i["answer"] for i in items],
                rubric=[i["rubric"] for i in items], reference_answers=refs)
        else:
            feedbacks, scores = judge.relative_grade(
                instructions=[i["question"] for i in items],
                responses_A=[i["answer_a"] for i in items],
                responses_B=[i["answer_b"] for i in items],
                rubric=[i["rubric"] for i in items], reference_answers=refs)
    first = model.batches[0]
    return {"messages": first, "mistral": [judge._get_conversation_prompt(m) for m in first],
            "batch_sizes": [len(b) for b in model.batches], "asked": model.asked,
            "feedbacks": feedbacks, "scores": scores}


def prometheus_rubric_messages(request: dict[str, Any]) -> list[Any]:
    """The messages PrometheusEval sends for an item graded with a rubric of its own, as its
    README does it: ``load_rubric(criteria, grading_format)``."""
    from prometheus_eval.prompts import load_rubric

    rows = [dict(i, rubric=load_rubric(request["criteria"], request["mode"]))
            for i in request["items"]]
    return prometheus_grade({"mode": request["mode"], "items": rows})["messages"]


def prometheus_rubrics(_: Any) -> dict[str, Any]:
    from prometheus_eval import prompts

    names = ("helpfulness", "harmlessness", "honesty", "factual_validity", "reasoning")
    return {"absolute": {n: prompts.load_rubric(n, "absolute") for n in names},
            "relative": {n: prompts.load_rubric(n, "relative") for n in names},
            "score_rubric_template": prompts.SCORE_RUBRIC_TEMPLATE}


def alpaca_logprob(request: dict[str, Any]) -> list[Any]:
    """completion_parsers.logprob_parser with weighted_alpaca_eval_gpt4_turbo's arguments
    (numerator m, denominators m and M, is_binarize false) on each completion: its list of
    preferences (NaN written as the string "nan"), or how it raised."""
    import logging

    from alpaca_eval.completion_parsers import logprob_parser

    logging.disable(logging.WARNING)  # it logs every completion without m or M

    def one(completion: Any) -> list[Any]:
        values = logprob_parser(completion, numerator_token="m", denominator_tokens=["m", "M"],
                                is_binarize=False)
        return [float(v) if math.isfinite(float(v)) else "nan" for v in values]

    return _each(request["completions"], one)


def alpaca_winrate(request: dict[str, Any]) -> list[Any]:
    """metrics/winrate.py get_winrate of each list of preferences (None: no preference)."""
    from alpaca_eval.metrics.winrate import get_winrate

    def one(preferences: list[Any]) -> dict[str, float]:
        out = get_winrate([{"preference": math.nan if p is None else p} for p in preferences])
        return {k: float(v) for k, v in out.items()}

    return _each(request["sets"], one)


def alpaca_template(_: Any) -> dict[str, str]:
    """The default annotator's prompt file as installed, and its configs.yaml's parser."""
    from pathlib import Path

    import alpaca_eval
    import yaml

    root = Path(alpaca_eval.__file__).parent / "evaluators_configs"
    config = yaml.safe_load((root / "weighted_alpaca_eval_gpt4_turbo" / "configs.yaml")
                            .read_text(encoding="utf-8"))["weighted_alpaca_eval_gpt4_turbo"]
    return {"prompt": (root / config["prompt_template"]).read_text(encoding="utf-8"),
            "parser": config["fn_completion_parser"],
            "parser_kwargs": json.dumps(config["completion_parser_kwargs"], sort_keys=True)}


TASKS = {f.__name__: f for f in (versions, prometheus_parse, prometheus_grade,
                                 prometheus_rubrics, prometheus_rubric_messages, alpaca_logprob,
                                 alpaca_winrate, alpaca_template)}

if __name__ == "__main__":
    answer = TASKS[sys.argv[1]](json.loads(sys.stdin.read() or "null"))
    sys.stdout.write(json.dumps(answer))
