"""judgecli: judge LLM outputs with LLMs.

The library under the ``judgecli`` command. Importing it loads neither torch nor openai;
a judge backend is imported when a judge of its kind is loaded.

    >>> from judgecli import load_template, load_judge, JudgeOptions, judge_file
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported on first use (PEP 562): `judgecli report` on a small file in a shell loop should
# not pay for the judging machinery it never uses.
_EXPORTS = {
    "Completion": "backends", "Judge": "backends", "Request": "backends",
    "load_judge": "backends", "InputError": "errors", "JudgecliError": "errors",
    "JudgeLoadError": "errors", "OutputError": "errors", "TemplateError": "errors",
    "Panel": "roles.panel", "Item": "io.records", "read_items": "io.records",
    "Review": "roles.review",
    "JudgeOptions": "judging.runner", "Judging": "judging.runner", "RunSummary": "judging.runner",
    "dry_run": "judging.runner", "judge_file": "judging.runner", "Prompt": "templates",
    "Template": "templates", "available": "templates", "load_template": "templates",
}

if TYPE_CHECKING:
    from .backends import Completion, Judge, Request, load_judge
    from .errors import InputError, JudgecliError, JudgeLoadError, OutputError, TemplateError
    from .io.records import Item, read_items
    from .judging.runner import JudgeOptions, Judging, RunSummary, dry_run, judge_file
    from .roles.panel import Panel
    from .roles.review import Review
    from .templates import Prompt, Template, available, load_template


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'judgecli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Completion", "InputError", "Item", "Judge", "JudgeLoadError", "JudgeOptions", "Judging",
    "JudgecliError", "OutputError", "Panel", "Prompt", "Request", "Review", "RunSummary",
    "Template",
    "TemplateError", "__version__", "available", "dry_run", "judge_file", "load_judge",
    "load_template", "read_items",
]
