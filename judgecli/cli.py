"""The ``judgecli`` command: a thin Typer layer over the library.

Each command declares its options and calls one library function. Errors of the
JudgecliError family become one line on stderr and exit code 2; Ctrl-C exits 130 and keeps
every judgment already written.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn, Optional

import typer

from . import __version__
from .errors import JudgecliError

app = typer.Typer(
    name="judgecli",
    help="Judge LLM outputs with LLMs: published judge templates rendered exactly, swap "
         "debiasing, confidence, and JSONL in and out.\n\n"
         "Example: judgecli judge pairs.jsonl --judge BAAI/JudgeLM-7B-v1.0 -o judged.jsonl",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"judgecli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Judge LLM outputs with LLMs."""


@app.command(epilog="Examples:\n\n"
             "  judgecli judge pairs.jsonl --judge ./JudgeLM-7B -o judged.jsonl\n\n"
             "  judgecli judge pairs.jsonl --template pandalm --judge WeOpenML/PandaLM-7B-v1\n\n"
             "  cat pairs.jsonl | judgecli judge - --judge ./judge | judgecli report -\n\n"
             "  judgecli judge pairs.jsonl --template mtbench-pair --dry-run | head -1")
def judge(
    input: Annotated[str, typer.Argument(help="Input JSONL file, or - for stdin.")],
    judge: Annotated[Optional[str], typer.Option(
        "--judge", "-j", help="Local model folder or hub id, hf:PATH, or openai:MODEL.")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Output JSONL (default: stdout).")] = None,
    template: Annotated[str, typer.Option(
        "--template", "-t", help="Bundled template name or a template .json file.")
    ] = "judgelm-pair",
    mode: Annotated[str, typer.Option(
        help="score: only the score line, from next-token probabilities; explain: generate "
             "the whole judgment; auto: score where the template allows it.")] = "auto",
    swap: Annotated[bool, typer.Option(
        "--swap/--no-swap", help="Judge pairwise items in both orders and combine.")] = True,
    combine: Annotated[str, typer.Option(
        help="How both orders combine: strict (a winner only when both agree) or average "
             "(each answer's scores averaged).")] = "strict",
    batch_size: Annotated[Optional[int], typer.Option(
        min=1, help="Prompts per forward pass (default: 8 on CPU, 32 on GPU).")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Explain mode's limit.")] = 512,
    field_map: Annotated[Optional[list[str]], typer.Option(
        "--map", help="Rename a field: DST=SRC (repeatable), e.g. --map question=prompt.")
    ] = None,
    resume: Annotated[bool, typer.Option(
        help="Skip ids already in the output and append the rest.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        help="Write bad lines to FILE.rejected.jsonl and go on.")] = False,
    dry_run: Annotated[bool, typer.Option(
        help="Judge nothing: print each prompt as JSON (id, order, template, prompt).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Judge each record of a JSONL file and write it back with a `judgment`."""
    from .backends import load_judge
    from .records import parse_map
    from .runner import JudgeOptions, dry_run as print_prompts, judge_file
    from .templates import load_template

    options = JudgeOptions(template=load_template(template), mode=mode, swap=swap,
                           combine=combine, max_new_tokens=max_new_tokens)
    mapping = parse_map(field_map or [])
    if dry_run:
        count = print_prompts(input, options, sys.stdout, mapping=mapping)
        typer.echo(f"{count} prompt(s); nothing judged", err=True)
        return
    if not judge:
        raise JudgecliError("--judge is required (a model folder, a hub id, or openai:MODEL)")
    if output and not (resume or force):
        from .jsonl import open_output  # fail before loading a model, not after
        import os
        if os.path.exists(output) and os.path.getsize(output) > 0:
            open_output(output, resume=False, force=False)
    loaded = load_judge(judge, batch_size=batch_size)
    try:
        summary = judge_file(input, output, loaded, options, mapping=mapping, resume=resume,
                             force=force, skip_invalid=skip_invalid,
                             progress=not quiet and sys.stderr.isatty() or False)
    finally:
        loaded.close()
    typer.echo(summary.line(), err=True)


def _not_yet(command: str) -> NoReturn:
    typer.echo(f"judgecli: '{command}' is not implemented yet", err=True)
    raise typer.Exit(2)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compare() -> None:
    """Is model B better than model A? Judge two answer files against each other."""
    _not_yet("compare")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def calibrate() -> None:
    """Measure which confidence indicator predicts a judge's correctness; fit a threshold."""
    _not_yet("calibrate")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def report() -> None:
    """Agreement, bias and reliability of judgment files."""
    _not_yet("report")


@app.command()
def templates() -> None:
    """List the bundled judge templates."""
    from .templates import available, load_template

    for name in available():
        t = load_template(name)
        typer.echo(f"{name:30s} {t.kind:6s} {t.style:10s} {t.description}")


def main() -> None:
    try:
        app()
    except JudgecliError as exc:
        typer.echo(f"judgecli: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("judgecli: interrupted; every judgment written so far is kept "
                   "(finish with --resume)", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `judgecli judge ... | head`: the reader left; that is not an error of ours.
        sys.stderr.close()
        sys.exit(0)
