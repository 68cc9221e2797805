"""The ``judgecli`` command: a thin Typer layer over the library.

Each command declares its options and calls one library function. Errors of the
JudgecliError family become one line on stderr and exit code 2; Ctrl-C exits 130 and keeps
every judgment already written.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from . import __version__
from . import cli_options as opt
from .cli_options import Command, JudgingArgs, fail_if_nothing_judged, finish, running
from .cli_report import CONVERT_SETTINGS, REPORT_EPILOG, convert, report
from .cli_templates import templates
from .errors import JudgecliError

if TYPE_CHECKING:
    from .calibration import Labelled

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
def judge(
    input: Annotated[str, typer.Argument(metavar="INPUT",
                                         help="Input JSONL file, or - for stdin.")],
    judge: opt.JudgeOpt = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Output JSONL (default: stdout).")] = None,
    template: opt.TemplateOpt = None,
    panel_vote: opt.PanelVoteOpt = "majority",
    review_judge: opt.ReviewJudgeOpt = None,
    review_template: opt.ReviewTemplateOpt = None,
    mode: opt.ModeOpt = "auto",
    swap: opt.SwapOpt = True,
    combine: opt.CombineOpt = "strict",
    batch_size: opt.BatchSizeOpt = None,
    max_new_tokens: opt.MaxNewTokensOpt = 512,
    field_map: opt.MapOpt = None,
    resume: opt.ResumeOpt = False,
    force: opt.ForceOpt = False,
    retry_errors: Annotated[bool, typer.Option(
        "--retry-errors", help="With --resume: judge again the items whose judgment failed "
                               "(their failed records are removed from the output first).")
    ] = False,
    skip_invalid: opt.SkipInvalidOpt = False,
    dry_run: opt.DryRunOpt = False,
    quiet: opt.QuietOpt = False,
    base_url: opt.BaseUrlOpt = None,
    api: opt.ApiOpt = None,
    concurrency: opt.ConcurrencyOpt = None,
    rpm: opt.RpmOpt = None,
    tpm: opt.TpmOpt = None,
    temperature: opt.TemperatureOpt = None,
    timeout: opt.TimeoutOpt = None,
    retries: opt.RetriesOpt = None,
    max_cost: opt.MaxCostOpt = None,
    price_in: opt.PriceInOpt = None,
    price_out: opt.PriceOutOpt = None,
    cache_dir: opt.CacheDirOpt = None,
    no_cache: opt.NoCacheOpt = False,
    batch: opt.BatchOpt = False,
    calibration: opt.CalibrationOpt = None,
    fallback: opt.FallbackOpt = None,
    fallback_template: opt.FallbackTemplateOpt = None,
    base_model: opt.BaseModelOpt = None,
) -> None:
    """Judge each record of a JSONL file and write it back with a `judgment`."""
    from .jsonl import check_input, check_output
    from .rejects import check_rejects
    from .resume import check_settings, planned_settings
    from .runner import judge_file

    args = JudgingArgs.of(locals())
    if retry_errors and not resume:
        raise JudgecliError("--retry-errors works with --resume")
    check_input(input)
    check_output(output, resume=resume, force=force)
    if skip_invalid and not dry_run:
        check_rejects(input, resume=resume, force=force)
    plan = args.plan(input)
    if dry_run:
        return args.show(input, plan, mapping=args.mapping)
    if resume:  # a file judged with other settings is refused before any model loads
        check_settings(output, planned_settings(plan.members, plan.options,
                                                review=bool(plan.roles.review_judge)))
    built = args.load(plan, output)
    with running(built):
        summary = judge_file(input, output, built.judging.judge, plan.options,
                             mapping=args.mapping, resume=resume, force=force,
                             retry_errors=retry_errors, skip_invalid=skip_invalid,
                             progress=args.progress, judging=built.judging)
    finish(summary, built)
    fail_if_nothing_judged(summary)


@app.command(cls=Command, epilog="Examples:\n\n"
             "  judgecli compare examples/model_a.jsonl examples/model_b.jsonl "
             "--judge examples/demo-judge\n\n"
             "  judgecli compare gpt4.jsonl vicuna.jsonl llama.jsonl --judge openai:gpt-4o "
             "-t mtbench-pair -o judged.jsonl\n\n"
             "  judgecli compare a.jsonl b.jsonl --questions question.jsonl --judge ./JudgeLM-7B")
def compare(
    files: Annotated[list[str], typer.Argument(
        metavar="FILES", help="Two or more answer files (JSONL, or an AlpacaEval JSON list); "
                              "the first is model A.")],
    judge: opt.JudgeOpt = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Keep the judgment records here.")] = None,
    template: opt.TemplateOpt = None,
    panel_vote: opt.PanelVoteOpt = "majority",
    review_judge: opt.ReviewJudgeOpt = None,
    review_template: opt.ReviewTemplateOpt = None,
    questions: Annotated[str | None, typer.Option(
        metavar="FILE", help="MT-Bench question.jsonl, for FastChat answer files.")] = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Compare the prompts every file has, instead of stopping.")
    ] = False,
    mode: opt.ModeOpt = "auto",
    swap: opt.SwapOpt = True,
    combine: opt.CombineOpt = "strict",
    batch_size: opt.BatchSizeOpt = None,
    max_new_tokens: opt.MaxNewTokensOpt = 512,
    field_map: opt.MapOpt = None,
    resume: opt.ResumeOpt = False,
    force: opt.ForceOpt = False,
    skip_invalid: opt.SkipInvalidOpt = False,
    dry_run: opt.DryRunOpt = False,
    quiet: opt.QuietOpt = False,
    as_json: opt.JsonOpt = False,
    seed: opt.SeedOpt = 0,
    base_url: opt.BaseUrlOpt = None,
    api: opt.ApiOpt = None,
    concurrency: opt.ConcurrencyOpt = None,
    rpm: opt.RpmOpt = None,
    tpm: opt.TpmOpt = None,
    temperature: opt.TemperatureOpt = None,
    timeout: opt.TimeoutOpt = None,
    retries: opt.RetriesOpt = None,
    max_cost: opt.MaxCostOpt = None,
    price_in: opt.PriceInOpt = None,
    price_out: opt.PriceOutOpt = None,
    cache_dir: opt.CacheDirOpt = None,
    no_cache: opt.NoCacheOpt = False,
    batch: opt.BatchOpt = False,
    calibration: opt.CalibrationOpt = None,
    fallback: opt.FallbackOpt = None,
    fallback_template: opt.FallbackTemplateOpt = None,
    base_model: opt.BaseModelOpt = None,
) -> None:
    """Is model B better than model A? Judge answer files against each other."""
    import json

    from .compare import CompareOptions, build_pairs, pairs_file
    from .compare import compare as run_compare
    from .compare.render import render
    from .jsonl import check_output
    from .rejects import check_rejects, rejected_path

    args = JudgingArgs.of(locals())
    check_output(output, resume=resume, force=force)  # bad files fail before a model loads
    for path in files if skip_invalid and not dry_run else ():
        check_rejects(path, resume=resume, force=force)
    pairs = build_pairs(files, mapping=args.mapping, questions=questions,
                        allow_missing=allow_missing, skip_invalid=skip_invalid)
    for path, count in pairs.rejected.items():
        typer.echo(f"judgecli: {count} bad record(s) of {path} written to "
                   f"{rejected_path(path)}", err=True)
    if pairs.n_left_out:
        typer.echo(f"judgecli: {pairs.n_left_out} prompt(s) not in every file left out",
                   err=True)
    default = "judgelm-pair-ref" if pairs.has_reference else "judgelm-pair"
    if not template and not quiet:
        typer.echo(f"judgecli: template {default} (the answers "
                   f"{'have' if pairs.has_reference else 'lack'} a reference); choose "
                   "another with --template", err=True)
    plan = args.plan(None, default=default)
    if dry_run:
        with pairs_file(pairs) as path:
            return args.show(path, plan, mapping=None)
    built = args.load(plan, output)
    options = CompareOptions(judge=plan.options, output=output, resume=resume, force=force,
                             seed=seed, progress=args.progress, skip_invalid=skip_invalid)
    with running(built):
        result = run_compare(pairs, built.judging.judge, options, judging=built.judging)
    finish(result.run, built)
    if as_json:
        typer.echo(json.dumps({"models": result.models, "n_prompts": result.n_prompts,
                               "judge": result.judge, "template": result.template,
                               "pairs": result.pairs, "ranking": result.ranking},
                              indent=2, allow_nan=False))
    else:
        render(result)
    fail_if_nothing_judged(result.run)


@app.command(cls=Command, epilog="Examples:\n\n"
             "  judgecli calibrate examples/labelled.jsonl --judge examples/demo-judge "
             "-t judgelm-pair-ref -o calibration.json\n\n"
             "  judgecli calibrate --judgments judged.jsonl --budget 0.3 -o calibration.json\n\n"
             "  judgecli calibrate --judgments weak.jsonl --fallback-judgments strong.jsonl\n\n"
             "Then: judgecli judge FILE --judge J --calibration calibration.json "
             "--fallback openai:gpt-4o")
def calibrate(
    labelled: Annotated[str | None, typer.Argument(
        metavar="LABELLED", help="Labelled items (a gold `label` each) to judge with "
                                 "--judge.")] = None,
    judge: opt.JudgeOpt = None,
    template: opt.TemplateOpt = None,
    judgments: Annotated[str | None, typer.Option(
        metavar="FILE", help="Reuse judgments already made (records with `label` and "
                             "`judgment`) instead of LABELLED.")] = None,
    fallback_judgments: Annotated[str | None, typer.Option(
        metavar="FILE", help="The fallback judge's judgments of the same items: simulate "
                             "the cascade.")] = None,
    target_accuracy: Annotated[float | None, typer.Option(
        min=0, max=1, metavar="ACCURACY",
        help="Escalate as few items as keep the local verdicts this accurate (default 0.9 "
             "unless --budget).")] = None,
    budget: Annotated[float | None, typer.Option(
        min=0, max=1, metavar="SHARE", help="Escalate at most this share of the items, the "
                                            "least trustworthy first.")] = None,
    indicator: Annotated[str | None, typer.Option(
        metavar="[verdict_prob|entropy|swap|huang|huang_calibrated]",
        help="The indicator to threshold (default: the best AUROC).")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Write calibration.json here.")] = None,
    judged_output: Annotated[str | None, typer.Option(
        metavar="FILE", help="Keep the judgments of LABELLED here.")] = None,
    mode: opt.ModeOpt = "auto",
    swap: opt.SwapOpt = True,
    combine: opt.CombineOpt = "strict",
    batch_size: opt.BatchSizeOpt = None,
    max_new_tokens: opt.MaxNewTokensOpt = 512,
    field_map: opt.MapOpt = None,
    force: opt.ForceOpt = False,
    skip_invalid: opt.SkipInvalidOpt = False,
    dry_run: opt.DryRunOpt = False,
    quiet: opt.QuietOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")
                       ] = False,
    base_url: opt.BaseUrlOpt = None,
    api: opt.ApiOpt = None,
    concurrency: opt.ConcurrencyOpt = None,
    rpm: opt.RpmOpt = None,
    tpm: opt.TpmOpt = None,
    temperature: opt.TemperatureOpt = None,
    timeout: opt.TimeoutOpt = None,
    retries: opt.RetriesOpt = None,
    max_cost: opt.MaxCostOpt = None,
    price_in: opt.PriceInOpt = None,
    price_out: opt.PriceOutOpt = None,
    cache_dir: opt.CacheDirOpt = None,
    no_cache: opt.NoCacheOpt = False,
    batch: opt.BatchOpt = False,
    base_model: opt.BaseModelOpt = None,
) -> None:
    """Which indicator predicts the judge's correctness; a threshold for the cascade."""
    from .calibration import calibrate as fit
    from .calibration import dump, read_labelled
    from .calibration_render import render as render_calibration
    from .jsonl import check_input, check_output

    args = JudgingArgs.of(locals())
    if (labelled is None) == (judgments is None):
        raise JudgecliError("give LABELLED with --judge, or --judgments FILE")
    unused = [name for name in args.given() if name != "--quiet"]
    if judgments is not None and unused:
        raise JudgecliError(f"{', '.join(unused)}: options of judging LABELLED; the "
                            "--judgments are judged already")
    for path in (labelled, judgments, fallback_judgments):
        if path is not None:
            check_input(path)
    check_output(output, force=force, resumable=False)
    check_output(judged_output, force=force, option="--judged-output", resumable=False)
    if budget is None and target_accuracy is None:
        target_accuracy = 0.9
    data = _judge_labelled(args, labelled, judged_output) if labelled is not None \
        else read_labelled(str(judgments))
    if data is None:
        return  # --dry-run
    fallback = read_labelled(fallback_judgments) if fallback_judgments else None
    result = fit(data, target_accuracy=None if budget is not None else target_accuracy,
                 budget=budget, indicator=indicator, fallback=fallback)
    text = dump(result)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if as_json:
        typer.echo(text)
    else:
        render_calibration(result)


def _judge_labelled(args: JudgingArgs, labelled: str, judged_output: str | None,
                    ) -> Labelled | None:
    """``calibrate LABELLED``: judge the items as ``judge`` would; None after --dry-run."""
    from .calibration import judge_labelled

    if len(args.judge or []) > 1 or len(args.template or []) > 1:
        raise JudgecliError("calibrate fits one judge with one template: give --judge and "
                            "--template once")
    if not args.judge and not args.dry_run:
        raise JudgecliError("--judge is required to judge LABELLED")
    plan = args.plan(labelled)
    if args.dry_run:
        args.show(labelled, plan, mapping=args.mapping)
        return None
    built = args.load(plan, judged_output)
    with running(built):
        data, summary = judge_labelled(labelled, built.judging.judge, options=plan.options,
                                       judging=built.judging, mapping=args.mapping,
                                       skip_invalid=args.skip_invalid, output=judged_output,
                                       progress=args.progress)
    finish(summary, built)  # raises where --max-cost stopped the run
    fail_if_nothing_judged(summary)
    return data


app.command(cls=Command, epilog=REPORT_EPILOG)(report)
app.command(context_settings=CONVERT_SETTINGS, add_help_option=False)(convert)
app.command(cls=Command)(templates)


def _interrupted(exc: BaseException) -> str:
    """What Ctrl-C left: the records the run wrote (carried on the KeyboardInterrupt that
    Typer turned into exit 130)."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, KeyboardInterrupt):
        seen = seen.__cause__ or seen.__context__
    written = getattr(seen, "written", None)
    if written is None:
        return "judgecli: interrupted; every judgment written so far is kept (finish with " \
               "--resume)"
    output = getattr(seen, "output", None)
    more = "; finish with --resume" if output not in (None, "-") else ""
    return f"judgecli: interrupted; {written} written{more}"


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
            typer.echo(_interrupted(exc), err=True)
        raise
    except KeyboardInterrupt:  # outside a command (while Typer builds it)
        typer.echo("judgecli: interrupted", err=True)
        sys.exit(130)
