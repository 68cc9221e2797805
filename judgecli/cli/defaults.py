"""What judgecli does when an option is left out: the template is chosen from the items.

A user who runs ``judgecli judge pairs.jsonl`` on items with reference answers expects the
judge to see them; JudgeLM's plain template ignores them (on the bundled examples it agrees
with the labels 0.22 of the time, its ``-ref`` variant 1.00). So the default follows the
first item's shape, as ``compare`` does, and says which template it took and why.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from ..errors import InputError
from ..io.jsonl import display_name, first_record
from ..io.records import apply_map, to_item
from ..templates import Template, default_template


def _first_item(path: str, mapping: dict[str, str], skip_invalid: bool):
    found = first_record(path, skip_invalid=skip_invalid)
    if found is None:
        return None
    line, record = found
    name = display_name(path)
    try:
        return to_item(apply_map(record, mapping, file=name, line=line), file=name, line=line)
    except InputError:
        return None  # the run reports (or skips) it


def choose_template(path: str, mapping: dict[str, str], *, skip_invalid: bool = False,
                    quiet: bool = False) -> str:
    """The template for ``path``'s items when none is named; said on stderr (unless
    ``quiet``)."""
    item = _first_item(path, mapping, skip_invalid)
    if item is None:
        return "judgelm-pair"  # nothing to judge: the run says so
    name, why = default_template(item)
    if not quiet:
        typer.echo(f"judgecli: template {name} ({why}); choose another with --template",
                   err=True)
    return name


def warn_unshown_reference(path: str, mapping: dict[str, str], templates: Sequence[Template],
                           *, skip_invalid: bool = False) -> None:
    """A warning when the items carry a reference that a chosen template does not show."""
    item = _first_item(path, mapping, skip_invalid)
    if item is None:
        return
    if item.reference is None and not any(t.reference is not None for t in item.turns):
        return
    for template in templates:
        if not template.shows_reference:
            typer.echo(f"judgecli: warning: the items carry a 'reference' that template "
                       f"{template.name} does not show the judge; a -ref template does",
                       err=True)
