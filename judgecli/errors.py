"""The one exception family of judgecli.

    JudgecliError            base: the CLI prints its message on one line and exits 2
    ├── InputError           a bad input record (names file, line and field)
    ├── TemplateError        a template file that is missing or malformed, or that cannot render an item
    ├── JudgeLoadError       a judge that cannot be loaded (unknown backend, missing model, offline)
    ├── OutputError          an output file that would be overwritten or cannot be resumed
    ├── BudgetExhausted      --max-cost reached: the run stopped cleanly before going over it
    └── NothingJudged        every judgment of a run failed (exit 1, not 2: the input and
                             options were fine, the judge gave nothing usable)

Anything else that escapes the library is a bug.
"""

from __future__ import annotations

from typing import Any


class JudgecliError(Exception):
    """Base class of every error judgecli raises on purpose."""


class InputError(JudgecliError):
    """A bad input record. ``str()`` names the file, the line and the field."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file or "<input>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class TemplateError(JudgecliError):
    """A template that is missing, malformed, or cannot render an item."""


class JudgeLoadError(JudgecliError):
    """A judge that cannot be found or loaded."""


class OutputError(JudgecliError):
    """An output file that would be overwritten, or that cannot be resumed."""


class BudgetExhausted(JudgecliError):
    """The next request could take the run over ``--max-cost``, so it was not sent.

    A backend raises it from ``complete`` with ``completions``: one entry per request,
    ``None`` for those not sent. The runner adds ``records``, those of the items whose
    requests all completed, writes them, and leaves the other items for ``--resume``
    (``io.ids.records_by_item`` lines them up with the items again)."""

    def __init__(self, message: str, completions: list[Any] | None = None) -> None:
        super().__init__(message)
        self.completions: list[Any] = completions or []
        self.records: list[Any] = []



class NothingJudged(JudgecliError):
    """Every judgment of the run failed: the records (with their errors) are written, but
    a pipeline must not take the run for a success."""

    exit_code = 1
