"""``--resample N``: a reply that does not parse is asked for again, up to N times, as
prometheus-eval re-samples (prometheus-eval 0.1.20, git 8eee0ba,
``libs/prometheus-eval/prometheus_eval/utils.py`` ``batch_completions_with_retries``: the
prompts whose output ``parse_output`` refuses are sent again, ``max_retries`` 10, at its
default temperature 1.0, and the first output that parses is kept; none parsing, the score is
None). Only a judge that samples can give another reply, so only such a judge may re-sample.

Every attempt is kept in the record: each order's ``attempts``, a list of ``{"text",
"error"}`` in the order asked, the last being the reply the judgment was read from. Each
re-asking is its own request (``Request.sample``), cached on its own, so --resume asks for
none of them again.

This biases which judgments survive towards the replies that parse (STYLE.md); it is off
unless asked for, and the record shows every attempt.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import JudgecliError

if TYPE_CHECKING:
    from ..backends.base import Completion
    from ..io.records import Item

Judging = Any  # a judgecli.judging.core.Judging (which imports this module)

UNPARSED = "unparseable: "


def check(judging: Judging) -> None:
    """Refuse --resample where asking again cannot give another reply."""
    if not judging.options.resample:
        return
    if judging.mode != "explain":
        raise JudgecliError("--resample re-asks a judge whose judgment does not parse; in "
                            "score mode the score line always parses: use --mode explain")
    if not judging.judge.samples:
        raise JudgecliError(f"--resample: judge '{judging.judge.name}' does not sample, so "
                            "asking again gives the same reply; give an API judge a "
                            "--temperature above 0 (prometheus-eval re-samples at 1.0)")


def resample(judging: Judging, item: Item, completions: list[Completion],
             ) -> tuple[list[Completion], list[list[dict[str, Any]]], list[Completion]]:
    """(the completion each order is read from, each order's attempts, every completion
    received, for the usage)."""
    requests = None
    final, tried, spent = [], [], list(completions)
    for index, (order, completion) in enumerate(zip(judging.options.orders(item),
                                                    completions, strict=True)):
        history: list[dict[str, Any]] = []
        while True:
            result = judging.order_result(item, order, completion)
            history.append({"text": completion.text, "error": result.error})
            if not (result.error or "").startswith(UNPARSED) or \
                    len(history) > judging.options.resample:
                break
            requests = requests or judging.requests(item)
            again = replace(requests[index], sample=len(history))
            completion = judging.judge.complete([again])[0]
            spent.append(completion)
        final.append(completion)
        tried.append(history)
    return final, tried, spent
