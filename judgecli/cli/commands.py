"""The ``judgecli`` command: a thin Typer layer over the library.

Each command declares its options and calls one library function. Errors of the
JudgecliError family become one line on stderr and exit code 2; Ctrl-C exits 130 and keeps
every judgment already written.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import JudgecliError
from .calibrate import CALIBRATE_EPILOG, calibrate
from .defaults import note_prompt_styles
from .help import Command
from .options import JsonOpt, JudgingArgs, SeedOpt, StyleControlOpt
from .report import CONVERT_SETTINGS, REPORT_EPILOG, convert, report
from .run import (
    fail_if_nothing_judged,
    finish,
    load_judges,
    make_plan,
    need_judge,
    running,
    show_plan,
)
from .sharing import judging_options
from .templates import templates

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


@app.command(cls=Command, epilog="Examples:\n\n"
             "  judgecli judge pairs.jsonl --judge ./JudgeLM-7B -o judged.jsonl\n\n"
             "  judgecli judge pairs.jsonl --template pandalm --judge WeOpenML/PandaLM-7B-v1\n\n"
             "  judgecli judge pairs.jsonl --template mtbench-pair --judge openai:gpt-4o "
             "--max-cost 5 -o judged.jsonl\n\n"
             "  cat pairs.jsonl | judgecli judge - --judge ./judge | judgecli report -\n\n"
             "  judgecli judge pairs.jsonl --template mtbench-pair --dry-run | head -1")
@judging_options()
def judge(
    input: Annotated[str, typer.Argument(metavar="INPUT",
                                         help="Input JSONL file, or - for stdin.")],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Output JSONL (default: stdout).")] = None,
    retry_errors: Annotated[bool, typer.Option(
        "--retry-errors", help="With --resume: judge again the items whose judgment failed "
                               "(their failed records are removed from the output first).")
    ] = False,
    *, args: JudgingArgs,
) -> None:
    """Judge each record of a JSONL file and write it back with a `judgment`."""
    from ..io.jsonl import check_input
    from ..io.output import check_output
    from ..io.rejects import check_rejects
    from ..judging.resume import check_settings, planned_settings
    from ..judging.runner import judge_file

    if retry_errors and not args.resume:
        raise JudgecliError("--retry-errors works with --resume")
    check_input(input)
    check_output(output, resume=args.resume, force=args.force)
    if args.skip_invalid and not args.dry_run:
        check_rejects(input, resume=args.resume, force=args.force)
    need_judge(args)
    plan = make_plan(args, input)
    note_prompt_styles(plan.members, quiet=args.quiet)
    if args.dry_run:
        return show_plan(args, input, plan, mapping=args.mapping)
    if args.resume:  # a file judged with other settings is refused before any model loads
        check_settings(output, planned_settings(plan.members, plan.options,
                                                review=bool(plan.roles.review_judge)))
    _note_machines(args.quiet)
    built = load_judges(args, plan, output)
    with running(built):
        summary = judge_file(input, output, built.judging.judge, plan.options,
                             mapping=args.mapping, resume=args.resume, force=args.force,
                             retry_errors=retry_errors, skip_invalid=args.skip_invalid,
                             progress=args.progress, judging=built.judging)
    finish(summary, built)
    fail_if_nothing_judged(summary)


def _note_machines(quiet: bool) -> None:
    """`accelerate launch` across machines: no longer documented nor tested (issue 23)."""
    from ..judging.distributed import Shard

    shard = Shard.from_env()
    if not quiet and shard is not None and shard.rank == 0 and Shard.across_machines():
        typer.echo("judgecli: note: judging across machines with accelerate launch (shards "
                   "merged through a shared file system) is untested and no longer "
                   "documented; --ray judges across machines (README, Scale)", err=True)


@app.command(cls=Command, epilog="Examples:\n\n"
             "  judgecli compare examples/model_a.jsonl examples/model_b.jsonl "
             "--judge examples/demo-judge\n\n"
             "  judgecli compare gpt4.jsonl vicuna.jsonl llama.jsonl --judge openai:gpt-4o "
             "-t mtbench-pair -o judged.jsonl\n\n"
             "  judgecli compare a.jsonl b.jsonl --questions question.jsonl --judge ./JudgeLM-7B")
@judging_options()
def compare(
    files: Annotated[list[str], typer.Argument(
        metavar="FILES", help="Two or more answer files (JSONL, or an AlpacaEval JSON list); "
                              "the first is model A.")],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Keep the judgment records here.")] = None,
    questions: Annotated[str | None, typer.Option(
        metavar="FILE", help="MT-Bench question.jsonl, for FastChat answer files.")] = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Compare the prompts every file has, instead of stopping.")
    ] = False,
    as_json: JsonOpt = False,
    seed: SeedOpt = 0,
    style_control: StyleControlOpt = False,
    *, args: JudgingArgs,
) -> None:
    """Is model B better than model A? Judge answer files against each other."""
    import json

    from ..compare import CompareOptions, build_pairs, pairs_file
    from ..compare import compare as run_compare
    from ..compare.render import render
    from ..io.output import check_output
    from ..io.rejects import check_rejects, rejected_path

    # bad files fail before a model loads
    check_output(output, resume=args.resume, force=args.force)
    need_judge(args)
    for path in files if args.skip_invalid and not args.dry_run else ():
        check_rejects(path, resume=args.resume, force=args.force)
    pairs = build_pairs(files, mapping=args.mapping, questions=questions,
                        allow_missing=allow_missing, skip_invalid=args.skip_invalid)
    for path, count in pairs.rejected.items():
        typer.echo(f"judgecli: {count} bad record(s) of {path} written to "
                   f"{rejected_path(path)}", err=True)
    if pairs.n_left_out:
        typer.echo(f"judgecli: {pairs.n_left_out} prompt(s) not in every file left out",
                   err=True)
    default = "judgelm-pair-ref" if pairs.has_reference else "judgelm-pair"
    plan = make_plan(args, None, default=default)  # its errors before the note (item 10)
    if not args.template and not args.quiet:
        typer.echo(f"judgecli: template {default} (the answers "
                   f"{'have' if pairs.has_reference else 'lack'} a reference); choose "
                   "another with --template", err=True)
    note_prompt_styles(plan.members, quiet=args.quiet)
    if args.dry_run:
        with pairs_file(pairs) as path:
            return show_plan(args, path, plan, mapping=None)
    built = load_judges(args, plan, output)
    options = CompareOptions(judge=plan.options, output=output, resume=args.resume,
                             force=args.force, seed=seed, progress=args.progress,
                             skip_invalid=args.skip_invalid, style_control=style_control)
    with running(built):
        result = run_compare(pairs, built.judging.judge, options, judging=built.judging)
    finish(result.run, built)
    if as_json:
        typer.echo(json.dumps({"models": result.models, "n_prompts": result.n_prompts,
                               "judge": result.judge, "template": result.template,
                               "pairs": result.pairs, "ranking": result.ranking,
                               "style_control": result.style_control},
                              indent=2, allow_nan=False))
    else:
        render(result)
    fail_if_nothing_judged(result.run)


app.command(cls=Command, epilog=CALIBRATE_EPILOG)(calibrate)
app.command(cls=Command, epilog=REPORT_EPILOG)(report)
app.command(context_settings=CONVERT_SETTINGS, add_help_option=False)(convert)
app.command(cls=Command)(templates)


def _interrupted(exc: BaseException) -> str:
    """What Ctrl-C left: the records the run wrote (carried on the KeyboardInterrupt that
    Typer turned into exit 130)."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, KeyboardInterrupt):
        seen = seen.__cause__ or seen.__context__
    # SIGTERM, where a run turns it into a Ctrl-C (--ray: judgecli.backends.raypool)
    what = "terminated" if getattr(seen, "signal", None) == "SIGTERM" else "interrupted"
    written = getattr(seen, "written", None)
    if written is None:
        return f"judgecli: {what}; every judgment written so far is kept (finish with " \
               "--resume)"
    output = getattr(seen, "output", None)
    more = "; finish with --resume" if output not in (None, "-") else ""
    return f"judgecli: {what}; {written} written{more}"


def main() -> None:
    from . import stdout_watch

    stdout_watch.watch()
    try:
        app()
    except JudgecliError as exc:
        typer.echo(f"judgecli: error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except SystemExit as exc:
        # Typer turns Ctrl-C into a silent exit 130 and a closed stdout into exit 1.
        if exc.code in (1, 130) and stdout_watch.reader_gone():
            # `judgecli judge ... | head -1`: the reader left. Stop quietly, keeping what was
            # written, as a shell tool killed by SIGPIPE does (128 + 13).
            stdout_watch.silence_stdout()
            sys.exit(141)
        if exc.code == 130:
            said = _interrupted(exc)
            typer.echo(said, err=True)
            if said.startswith("judgecli: terminated"):
                sys.exit(143)  # 128 + SIGTERM, as a process ended by it
        raise
    except KeyboardInterrupt:  # outside a command (while Typer builds it)
        typer.echo("judgecli: interrupted", err=True)
        sys.exit(130)
