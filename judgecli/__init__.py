"""judgecli: judge LLM outputs with LLMs.

The library under the ``judgecli`` command. Importing it loads neither torch nor openai;
a judge backend is imported when a judge of its kind is loaded.

    >>> from judgecli import load_template, load_judge, JudgeOptions, judge_file
"""

from __future__ import annotations

from .backends import Completion, Judge, Request, load_judge
from .errors import InputError, JudgecliError, JudgeLoadError, OutputError, TemplateError
from .panel import Panel
from .records import Item, read_items
from .review import Review
from .runner import JudgeOptions, Judging, RunSummary, dry_run, judge_file
from .templates import Prompt, Template, available, load_template

__version__ = "0.1.0"

__all__ = [
    "Completion", "InputError", "Item", "Judge", "JudgeLoadError", "JudgeOptions", "Judging",
    "JudgecliError", "OutputError", "Panel", "Prompt", "Request", "Review", "RunSummary",
    "Template",
    "TemplateError", "__version__", "available", "dry_run", "judge_file", "load_judge",
    "load_template", "read_items",
]
