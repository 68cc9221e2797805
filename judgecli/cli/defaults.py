"""What judgecli does when an option is left out: the template is chosen from the items.

A user who runs ``judgecli judge pairs.jsonl`` on items with reference answers expects the
judge to see them; JudgeLM's plain template ignores them (on the bundled examples it agrees
with the labels 0.22 of the time, its ``-ref`` variant 1.00). So the default follows the
first item's shape, as ``compare`` does, and says which template it took and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

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
    from ..templates import available

    bundled = set(available())
    for template in templates:
        if not template.shows_reference:
            # Name the template that would show it, where one exists (issue 26 item 9).
            ref = f"{template.name}-ref"
            hint = f"{ref} does" if ref in bundled else "no variant of it shows one"
            typer.echo(f"judgecli: warning: the items carry a 'reference' that template "
                       f"{template.name} does not show the judge; {hint}", err=True)


def has_chat_template(spec: str) -> bool:
    """Whether a local judge folder ships a chat template (in tokenizer_config.json or as
    chat_template.jinja, as transformers saves it); hub ids and GGUF files are not read."""
    folder = Path(spec)
    if not folder.is_dir():
        return False
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get("chat_template"))


def note_prompt_styles(members: Sequence[tuple[str | None, Template]], *, quiet: bool) -> None:
    """Say when a chat-tuned local judge gets a plain-text prompt (issue 26 item 8): what it
    is sent, and how to send it a chat prompt instead."""
    if quiet:
        return
    for spec, template in members:
        if spec is not None and template.style == "completion" and has_chat_template(spec):
            typer.echo(f"judgecli: note: {spec} has a chat template, but template "
                       f"{template.name} is a plain-text prompt and is sent as written, "
                       "without it (as its judge was trained); for a chat-tuned judge choose "
                       "a template of style chat (judgecli templates: STYLE), e.g. -t "
                       "mtbench-pair, which goes through the judge's chat template", err=True)
