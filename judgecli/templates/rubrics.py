"""Bundled rubrics chosen by name: ``--rubric NAME``, or a record whose ``rubric`` field is
one of these names, as prometheus-eval users pick one (prometheus-eval 0.1.20, git 8eee0ba,
``libs/prometheus-eval/prometheus_eval/prompts.py`` ``load_rubric(criteria,
grading_format)``: ``helpfulness``, ``harmlessness``, ``honesty``, ``factual_validity``,
``reasoning``; relative grading keeps the rubric's first line, the criterion in brackets).

A name is prometheus-eval's criterion or the file's own (``prompts/rubrics/NAME.txt``:
``prometheus-helpfulness``); ``prometheus-score-rubric`` is its ``SCORE_RUBRIC_TEMPLATE``,
filled from the record's ``criteria`` and ``score1_description`` ... ``score5_description``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import TemplateError
from ..io.records import PAIR
from .files import bundled_dir
from .fill import Source, placeholders

Template = Any  # a judgecli.templates.Template (which imports this module)

FIELD = "rubric"  # the placeholder the Prometheus templates show the rubric in


def names() -> list[str]:
    """The names ``--rubric`` takes: each file's, and prometheus-eval's criterion names."""
    files = sorted(p.stem for p in (bundled_dir() / "rubrics").glob("*.txt"))
    short = [f.removeprefix("prometheus-").replace("-", "_") for f in files
             if f.startswith("prometheus-") and f != "prometheus-score-rubric"]
    return short + files


def named(name: object) -> str | None:
    """The text of the bundled rubric ``name`` names, or None where it names none."""
    if not isinstance(name, str) or name not in names():
        return None
    stem = name if name.startswith("prometheus-") else "prometheus-" + name.replace("_", "-")
    return (bundled_dir() / "rubrics" / f"{stem}.txt").read_text(encoding="utf-8")


def source_for(template: Template, text: str) -> Source:
    """How ``template`` shows a bundled rubric: its first line in a pairwise template (as
    ``load_rubric`` gives relative grading), filled from the record where it has fields."""
    if template.kind == PAIR:
        text = text.split("\n")[0]
    return Source("format", text) if placeholders(text) else Source("text", text)


def with_rubric(template: Template, name: str) -> Template:
    """``template`` showing the bundled rubric ``name`` instead of the record's ``rubric``
    field (which is then not required); its name says which (``prometheus-absolute
    [helpfulness]``), so that --resume refuses to mix rubrics. Raises TemplateError."""
    text = named(name)
    if text is None:
        raise TemplateError(f"--rubric {name!r} names no bundled rubric; bundled: "
                            f"{', '.join(names())}")
    texts = (template.text, template.system, template.user, *(m for _, m in template.messages))
    shown = {p for t in texts for p in placeholders(t, template.fill)}
    if FIELD not in shown:
        raise TemplateError(f"--rubric: template '{template.name}' shows no {{{FIELD}}}")
    return replace(template, name=f"{template.name}[{name}]",
                   sources={**template.sources, FIELD: source_for(template, text)},
                   requires=tuple(r for r in template.requires if r != FIELD))
