"""The ``judgecli`` command: a thin Typer layer over the library.

Each command declares its options and calls one library function. Errors of the
JudgecliError family become one line on stderr and exit code 2; Ctrl-C exits 130 and keeps
every judgment already written.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import __version__
from .cli_report import CONVERT_SETTINGS, REPORT_EPILOG, convert, report
from .errors import BudgetExhausted, JudgecliError, NothingJudged

if TYPE_CHECKING:
    from .backends.base import Judge

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
             "  judgecli judge pairs.jsonl --template mtbench-pair --judge openai:gpt-4o "
             "--max-cost 5 -o judged.jsonl\n\n"
             "  cat pairs.jsonl | judgecli judge - --judge ./judge | judgecli report -\n\n"
             "  judgecli judge pairs.jsonl --template mtbench-pair --dry-run | head -1")
def judge(
    input: Annotated[str, typer.Argument(help="Input JSONL file, or - for stdin.")],
    judge: Annotated[Optional[list[str]], typer.Option(
        "--judge", "-j", help="Local model folder or hub id, hf:PATH, or openai:MODEL. "
                              "Give it several times for a panel.")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Output JSONL (default: stdout).")] = None,
    template: Annotated[Optional[list[str]], typer.Option(
        "--template", "-t", help="Bundled template name or a template .json file (default: "
                                 "chosen from the first item, e.g. judgelm-pair-ref where it "
                                 "has a reference); for a panel, once for all or once per "
                                 "--judge.")] = None,
    panel_vote: Annotated[str, typer.Option(
        help="How a panel's verdicts combine: majority, mean or unanimous (see README).")
    ] = "majority",
    review_judge: Annotated[Optional[str], typer.Option(
        help="A second-level judge that reviews each verdict and keeps or overturns it.")
    ] = None,
    review_template: Annotated[Optional[str], typer.Option(
        help="The reviewer's template (default: review-pair, review-single or "
             "review-binary, after --template).")] = None,
    mode: Annotated[str, typer.Option(
        help="score: only the score line, from next-token probabilities; explain: generate "
             "the whole judgment; auto: score where the template allows it.")] = "auto",
    swap: Annotated[bool, typer.Option(
        "--swap/--no-swap", help="Judge pairwise items in both orders and combine.")] = True,
    combine: Annotated[str, typer.Option(
        help="How both orders combine: strict (a winner only when both agree) or average "
             "(each answer's scores averaged).")] = "strict",
    batch_size: Annotated[Optional[int], typer.Option(
        min=1, help="Prompts per forward pass (default: 8 on CPU; on a GPU as many as fit "
                     "in half its free memory, at most 256).")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Explain mode's limit.")] = 512,
    field_map: Annotated[Optional[list[str]], typer.Option(
        "--map", help="Rename a field: DST=SRC (repeatable), e.g. --map question=prompt.")
    ] = None,
    resume: Annotated[bool, typer.Option(
        help="Skip ids already in the output and append the rest.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
    retry_errors: Annotated[bool, typer.Option(
        help="With --resume: judge again the items whose judgment failed (their failed "
             "records are removed from the output first).")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        help="Write bad lines to FILE.rejected.jsonl and go on.")] = False,
    dry_run: Annotated[bool, typer.Option(
        help="Judge nothing: print each prompt as JSON (id, order, template, prompt).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bar, nor notes such as the "
                                             "template chosen.")] = False,
    base_url: Annotated[Optional[str], typer.Option(
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default: "
             "$OPENAI_BASE_URL, else OpenAI's). The key is read from $OPENAI_API_KEY.")] = None,
    api: Annotated[Optional[str], typer.Option(
        help="chat (default), or completions: send completion templates as a raw prompt to "
             "/v1/completions (a server hosting a fine-tuned judge).")] = None,
    concurrency: Annotated[Optional[int], typer.Option(
        min=1, help="Requests in flight at once (default 16).")] = None,
    rpm: Annotated[Optional[float], typer.Option(
        min=0.001, help="At most this many requests a minute.")] = None,
    tpm: Annotated[Optional[float], typer.Option(
        min=1, help="At most this many tokens a minute (prompt estimate + max tokens).")] = None,
    temperature: Annotated[Optional[float], typer.Option(
        min=0, help="Sampling temperature (default 0).")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        min=0.001, help="Seconds before a request counts as timed out (default 60).")] = None,
    retries: Annotated[Optional[int], typer.Option(
        min=0, help="Retries of a request after 429, 5xx, timeouts, dropped connections or "
                    "malformed replies (default 6).")] = None,
    max_cost: Annotated[Optional[float], typer.Option(
        min=0, help="Stop before spending more than this many USD; everything judged so far "
                    "is kept (finish with --resume).")] = None,
    price_in: Annotated[Optional[float], typer.Option(
        min=0, help="USD per million prompt tokens (default: the table for known OpenAI "
                    "models).")] = None,
    price_out: Annotated[Optional[float], typer.Option(
        min=0, help="USD per million completion tokens.")] = None,
    cache_dir: Annotated[Optional[str], typer.Option(
        help="Where replies are cached (default: $JUDGECLI_CACHE_DIR, else "
             "$XDG_CACHE_HOME/judgecli).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Neither read nor write the reply cache.")] = False,
    calibration: Annotated[Optional[str], typer.Option(
        help="calibration.json from `judgecli calibrate`: with --fallback, escalate the "
             "items it distrusts (the cascade).")] = None,
    fallback: Annotated[Optional[str], typer.Option(
        help="The stronger judge escalated items go to, e.g. openai:gpt-4o.")] = None,
    fallback_template: Annotated[Optional[str], typer.Option(
        help="The fallback's template (default: --template).")] = None,
    base_model: Annotated[Optional[str], typer.Option(
        help="The local judge's base model, for Huang et al.'s calibrated indicator.")
    ] = None,
) -> None:
    """Judge each record of a JSONL file and write it back with a `judgment`."""
    from .assemble import Roles, assemble, show_prompts
    from .defaults import choose_template, warn_unshown_reference
    from .jsonl import check_input, check_output
    from .records import parse_map
    from .runner import JudgeOptions, judge_file
    from .templates import load_template

    if retry_errors and not resume:
        raise JudgecliError("--retry-errors works with --resume")
    check_input(input)
    check_output(output, resume=resume, force=force)
    mapping = parse_map(field_map or [])
    template = template or [choose_template(input, mapping, skip_invalid=skip_invalid,
                                            quiet=quiet)]
    roles = Roles(judges=judge or [], templates=template, vote=panel_vote,
                  review_judge=review_judge, review_template=review_template,
                  calibration=calibration, fallback=fallback,
                  fallback_template=fallback_template)
    members = roles.members() if judge else [(None, load_template(template[0]))]
    warn_unshown_reference(input, mapping, [t for _, t in members], skip_invalid=skip_invalid)
    roles.options = JudgeOptions(template=members[0][1], mode=mode, swap=swap,
                                 combine=combine, max_new_tokens=max_new_tokens)
    api_options = {k: v for k, v in dict(
        base_url=base_url, api=api, concurrency=concurrency, rpm=rpm, tpm=tpm,
        temperature=temperature, timeout=timeout, retries=retries, max_cost=max_cost,
        price_in=price_in, price_out=price_out, cache_dir=cache_dir,
        cache=False if no_cache else None).items() if v is not None}
    roles.check_backend_options(api_options, base_model)
    if dry_run:
        count, estimates = show_prompts(input, roles.options, members, sys.stdout,
                                        mapping=mapping, price_in=price_in,
                                        price_out=price_out,
                                        review=roles.review_member(members[0][1]))
        typer.echo(f"{count} prompt(s); nothing judged", err=True)
        if review_judge:
            typer.echo("the review prompts hold the first judge's texts; not shown", err=True)
        for estimate in estimates:
            typer.echo(estimate.report(), err=True)
        return
    roles.check()
    if not judge:
        raise JudgecliError("--judge is required (a model folder, a hub id, or openai:MODEL)")
    built = assemble(roles, batch_size=batch_size, api_options=api_options,
                     local_options={"base_model": base_model} if base_model else None)
    try:
        summary = judge_file(input, output, built.judging.judge, roles.options,
                             mapping=mapping, resume=resume, force=force,
                             retry_errors=retry_errors,
                             skip_invalid=skip_invalid,
                             progress=not quiet and sys.stderr.isatty() or False,
                             judging=built.judging)
    except BaseException:
        for one in built.judges:
            _print_usage(one)  # what the interrupted run used, before its error line
        raise
    finally:
        for one in built.judges:
            one.close()
    typer.echo(summary.line(), err=True)
    for one in built.judges:
        _print_usage(one)
    if built.cascade is not None:
        typer.echo(built.cascade.summary(), err=True)
    if summary.stopped:
        raise BudgetExhausted(summary.stopped)
    _fail_if_nothing_judged(summary.judged, summary.errors)


def _fail_if_nothing_judged(judged: int, errors: int) -> None:
    if judged and errors == judged:
        raise NothingJudged(f"every judgment failed ({errors} of {judged}); each record's "
                            "judgment.error says why")


def _print_usage(judge: Judge) -> None:
    report = judge.usage_report()
    if report:
        typer.echo(report, err=True)


@app.command(epilog="Examples:\n\n"
             "  judgecli compare examples/model_a.jsonl examples/model_b.jsonl "
             "--judge examples/demo-judge\n\n"
             "  judgecli compare gpt4.jsonl vicuna.jsonl llama.jsonl --judge openai:gpt-4o "
             "-t mtbench-pair -o judged.jsonl\n\n"
             "  judgecli compare a.jsonl b.jsonl --questions question.jsonl --judge ./JudgeLM-7B")
def compare(
    files: Annotated[list[str], typer.Argument(
        help="Two or more answer files (JSONL, or an AlpacaEval JSON list).")],
    judge: Annotated[list[str], typer.Option(
        "--judge", "-j", help="Local model folder or hub id, hf:PATH, or openai:MODEL; "
                              "several times for a panel.")],
    template: Annotated[Optional[list[str]], typer.Option(
        "--template", "-t", help="Bundled template name or a template .json file "
                                 "(default: judgelm-pair-ref where the answers have a "
                                 "reference, else judgelm-pair); once, or once per --judge."
    )] = None,
    panel_vote: Annotated[str, typer.Option(
        help="A panel's vote: majority, mean or unanimous.")] = "majority",
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Write the judgment records here.")] = None,
    questions: Annotated[Optional[str], typer.Option(
        help="MT-Bench question.jsonl, for FastChat answer files.")] = None,
    allow_missing: Annotated[bool, typer.Option(
        help="Compare the prompts every file has, instead of stopping.")] = False,
    swap: Annotated[bool, typer.Option("--swap/--no-swap", help="Judge both orders.")] = True,
    combine: Annotated[str, typer.Option(help="strict or average.")] = "strict",
    mode: Annotated[str, typer.Option(help="auto, score or explain.")] = "auto",
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    field_map: Annotated[Optional[list[str]], typer.Option(
        "--map", help="Rename a field: DST=SRC, e.g. --map answer=response.")] = None,
    resume: Annotated[bool, typer.Option(help="Finish an interrupted -o file.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing -o file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bar, nor notes such as the "
                                             "template chosen.")] = False,
) -> None:
    """Is model B better than model A? Judge answer files against each other."""
    import json

    from .assemble import Roles, assemble
    from .compare import CompareOptions, build_pairs
    from .compare import compare as run_compare
    from .compare.render import render
    from .records import parse_map
    from .runner import JudgeOptions

    from .jsonl import check_output

    # Bad files fail here, before a model is loaded.
    check_output(output, resume=resume, force=force)
    pairs = build_pairs(files, mapping=parse_map(field_map or []), questions=questions,
                        allow_missing=allow_missing)
    if not template:
        template = ["judgelm-pair-ref" if pairs.has_reference else "judgelm-pair"]
    roles = Roles(judges=judge, templates=template, vote=panel_vote)
    members = roles.members()
    roles.options = JudgeOptions(template=members[0][1], mode=mode, swap=swap,
                                 combine=combine)
    options = CompareOptions(judge=roles.options, output=output, resume=resume, force=force,
                             seed=seed, progress=not quiet and sys.stderr.isatty())
    built = assemble(roles, batch_size=batch_size)
    try:
        result = run_compare(pairs, built.judging.judge, options, judging=built.judging)
    finally:
        for one in built.judges:
            one.close()
    typer.echo(result.run.line(), err=True)
    if as_json:
        typer.echo(json.dumps({"models": result.models, "n_prompts": result.n_prompts,
                               "pairs": result.pairs, "ranking": result.ranking},
                              indent=2, allow_nan=False))
    else:
        render(result)
    _fail_if_nothing_judged(result.run.judged, result.run.errors)


@app.command(epilog="Examples:\n\n"
             "  judgecli calibrate examples/labelled.jsonl --judge examples/demo-judge "
             "-t judgelm-pair-ref -o calibration.json\n\n"
             "  judgecli calibrate --judgments judged.jsonl --budget 0.3 -o calibration.json\n\n"
             "  judgecli calibrate --judgments weak.jsonl --fallback-judgments strong.jsonl\n\n"
             "Then: judgecli judge FILE --judge J --calibration calibration.json "
             "--fallback openai:gpt-4o")
def calibrate(
    labelled: Annotated[Optional[str], typer.Argument(
        help="Labelled items (a gold `label` each) to judge with --judge.")] = None,
    judge: Annotated[Optional[str], typer.Option(
        "--judge", "-j", help="The local judge to calibrate.")] = None,
    template: Annotated[Optional[str], typer.Option(
        "--template", "-t", help="Bundled template name or a template .json file (default: "
                                 "chosen from the items, e.g. judgelm-pair-ref where they "
                                 "carry a reference).")] = None,
    base_model: Annotated[Optional[str], typer.Option(
        help="The judge's base model, for Huang et al.'s calibrated indicator.")] = None,
    judgments: Annotated[Optional[str], typer.Option(
        help="Reuse judgments already made (records with `label` and `judgment`).")] = None,
    fallback_judgments: Annotated[Optional[str], typer.Option(
        help="The fallback judge's judgments of the same items: simulate the cascade.")
    ] = None,
    target_accuracy: Annotated[Optional[float], typer.Option(
        help="Escalate as few items as keep the local verdicts this accurate "
             "(default 0.9 unless --budget).")] = None,
    budget: Annotated[Optional[float], typer.Option(
        help="Escalate this share of the items, the least trustworthy first.")] = None,
    indicator: Annotated[Optional[str], typer.Option(
        help="verdict_prob, entropy, swap, huang or huang_calibrated (default: the best "
             "AUROC).")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Write calibration.json here.")] = None,
    judged_output: Annotated[Optional[str], typer.Option(
        help="Keep the judgments of LABELLED here.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")
                       ] = False,
    force: Annotated[bool, typer.Option(
        help="Overwrite an existing -o or --judged-output file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bar, nor notes such as the "
                                             "template chosen.")] = False,
) -> None:
    """Which indicator predicts the judge's correctness; a threshold for the cascade."""
    from .calibration import calibrate as fit
    from .calibration import dump, judge_labelled, read_labelled
    from .calibration_render import render as render_calibration

    from .jsonl import check_input, check_output

    if (labelled is None) == (judgments is None):
        raise JudgecliError("give LABELLED with --judge, or --judgments FILE")
    for path in (labelled, judgments, fallback_judgments):
        if path is not None:
            check_input(path)
    check_output(output, force=force, resumable=False)
    check_output(judged_output, force=force, option="--judged-output", resumable=False)
    if budget is None and target_accuracy is None:
        target_accuracy = 0.9
    if labelled is not None:
        if not judge:
            raise JudgecliError("--judge is required to judge LABELLED")
        from .defaults import choose_template, warn_unshown_reference
        from .templates import load_template

        template = template or choose_template(labelled, {}, quiet=quiet)
        warn_unshown_reference(labelled, {}, [load_template(template)])
        data, line = judge_labelled(labelled, judge, template, base_model=base_model,
                                    batch_size=batch_size, output=judged_output,
                                    progress=not quiet and sys.stderr.isatty())
        typer.echo(line, err=True)
    else:
        assert judgments is not None
        data = read_labelled(judgments)
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


app.command(epilog=REPORT_EPILOG)(report)
app.command(context_settings=CONVERT_SETTINGS, add_help_option=False)(convert)


@app.command()
def templates() -> None:
    """List the bundled judge templates."""
    from .templates import available, load_template

    for name in available():
        t = load_template(name)
        typer.echo(f"{name:30s} {t.kind:6s} {t.style:10s} {t.description}")


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
            typer.echo("judgecli: interrupted; every judgment written so far is kept "
                       "(finish with --resume)", err=True)
        raise
    except KeyboardInterrupt:  # outside a command (while Typer builds it)
        typer.echo("judgecli: interrupted", err=True)
        sys.exit(130)
