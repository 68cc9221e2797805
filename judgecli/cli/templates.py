"""``judgecli templates [NAME]``: the bundled templates, one a line, or one template's text,
parser and score line (registered on the app in :mod:`judgecli.cli.commands`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..templates import Template, available, load_template


def templates(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", help="Show this template (a bundled name or a .json file): its "
                             "source, parser, score line and prompt text.")] = None,
) -> None:
    """List the bundled judge templates, or show one."""
    typer.echo(describe(load_template(name)) if name else listing())


def listing(width: int | None = None) -> str:
    """One line a template; ``width``: cut descriptions to it (a terminal's, when stdout is
    one: piped, the lines are whole, for grep)."""
    import shutil
    import sys

    if width is None and sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
    rows = [("NAME", "KIND", "STYLE", "DESCRIPTION")]
    rows += [(n, t.kind, t.style, t.description)
             for n, t in ((n, load_template(n)) for n in available())]
    name_width = max(len(row[0]) for row in rows)
    lines = []
    for n, kind, style, description in rows:
        line = f"{n:{name_width}s}  {kind:6s} {style:10s} {description}"
        if width and len(line) > width:
            line = line[:max(width - 3, name_width)] + "..."
        lines.append(line)
    lines.append("\n`judgecli templates NAME` shows one template's prompt.")
    return "\n".join(lines)


def score_line(template: Template) -> str:
    """What score mode reads first, e.g. ``"{1..10} {1..10}\\n"``, or why it cannot."""
    line = template.score_line
    if line is None:
        return "none: the verdict comes after an explanation, so explain mode only"
    values = line.values
    shown = f"{{{values[0]}..{values[-1]}}}" if len(values) > 3 else "{" + "|".join(values) + "}"
    many = template.count == "answers"
    body = line.sep.join([shown] * (template.count if isinstance(template.count, int) else
                                    2 if many else 1)) + (line.sep + "..." if many else "")
    return repr(line.prefix + body + line.end) + (", one score per answer" if many else "") \
        + "; score mode reads it from next-token probabilities"


def parser_line(template: Template) -> str:
    """The parser's name, or what a parser declared as data reads."""
    from ..parsers.specs import decode, is_data

    name = f"data: {decode(template.parser).describe()}" if is_data(template.parser) \
        else template.parser
    return name + (f" ({template.count} scores)" if isinstance(template.count, int) else "")


def filled_from(template: Template) -> str:
    """Which record field (or fixed text) fills each placeholder the prompt shows, e.g.
    ``{instruction} <- question`` (issue 26 item 11: the original's names are kept)."""
    from ..templates.fill import placeholders

    texts = [template.text, template.system, template.user, template.answer_block,
             *template.text_if_empty.values()]
    names = dict.fromkeys(n for text in texts if text for n in placeholders(text, template.fill))
    shown = []
    for name in names:
        source = template.sources.get(name)
        if source is None or source.kind == "field":
            field = source.value if source is not None else name
            shown.append(f"{{{name}}} <- {field}" if field != name else f"{{{name}}}")
        else:
            what = source.value if len(source.value) <= 30 else source.value[:27] + "..."
            shown.append(f"{{{name}}} <- {source.kind} {what!r}")
    return ", ".join(shown)


def describe(template: Template) -> str:
    fields = [("name", template.name), ("description", template.description),
              ("source", template.source), ("kind", template.kind),
              ("style", template.style), ("turns", str(template.turns)),
              ("fields", filled_from(template)),
              ("requires", ", ".join(template.requires) or "-"),
              ("parser", parser_line(template)),
              ("score line", score_line(template)), ("file", template.path)]
    lines = [f"{key + ':':13s}{value}" for key, value in fields if value]
    texts = [("system", template.system), ("user", template.user)] \
        if template.style == "chat" else [("text", template.text)]
    texts += [(f"text if {key} is empty", text) for key, text in template.text_if_empty.items()]
    if template.answer_block:
        texts.append(("each answer", template.answer_block))
    for title, text in texts:
        lines += ["", f"--- {title} ---", text]
    return "\n".join(lines)
