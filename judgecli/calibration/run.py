"""Judging labelled items for ``calibrate LABELLED``."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ..backends import Judge, load_judge
from ..judging.runner import JudgeOptions, RunSummary, judge_file
from ..templates import Template, load_template
from .files import CalibrationError, Labelled, read_labelled


def judge_labelled(labelled: str, judge: str | Judge, template: str | Template | None = None,
                   *, options: JudgeOptions | None = None, judging: Any = None,
                   mapping: dict[str, str] | None = None, skip_invalid: bool = False,
                   base_model: str | None = None, batch_size: int | None = None,
                   output: str | None = None, progress: bool = False,
                   ) -> tuple[Labelled | None, RunSummary]:
    """Judge labelled items with ``judge_file`` (for ``calibrate LABELLED``) into ``output``
    if given: what :func:`read_labelled` reads from the judgments (None where the run
    stopped early, at ``--max-cost``), and the run's summary. ``judge``: a spec, loaded here
    and closed, or a loaded Judge the caller closes; ``options``: mode, swap, combine and
    token limit (default: ``template``'s); ``judging``: what judges instead (the CLI's)."""
    if options is None:
        if template is None:
            raise CalibrationError("judge_labelled needs a template or options")
        options = JudgeOptions(template=load_template(template)
                               if isinstance(template, str) else template)
    with tempfile.TemporaryDirectory(prefix="judgecli-calibrate-") as tmp:
        judged = output or os.path.join(tmp, "judged.jsonl")
        loaded = load_judge(judge, batch_size=batch_size,
                            **({"base_model": base_model} if base_model else {})) \
            if isinstance(judge, str) else judge
        try:
            summary = judge_file(labelled, judged, loaded, options, mapping=mapping, force=True,
                                 skip_invalid=skip_invalid, progress=progress, judging=judging)
        finally:
            if isinstance(judge, str):
                loaded.close()
        if summary.stopped:
            return None, summary
        return read_labelled(judged), summary
