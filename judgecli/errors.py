"""The one exception family of judgecli.

    JudgecliError            base: the CLI prints its message on one line and exits 2
    ├── InputError           a bad input record (names file, line and field)
    ├── TemplateError        a template file that is missing or malformed, or that cannot render an item
    ├── JudgeLoadError       a judge that cannot be loaded (unknown backend, missing model, offline)
    └── OutputError          an output file that would be overwritten or cannot be resumed

Anything else that escapes the library is a bug.
"""

from __future__ import annotations


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
