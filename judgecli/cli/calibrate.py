"""``judgecli calibrate``: judge labelled items (or read judgments already made) and fit
the indicator and threshold of the cascade (:mod:`judgecli.calibration`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import JudgecliError
from .config import no_judge
from .defaults import note_prompt_styles
from .options import JudgingArgs
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

if TYPE_CHECKING:
    from ..calibration import Labelled

CALIBRATE_EPILOG = ("Examples:\n\n"
    "  judgecli calibrate examples/labelled.jsonl --judge examples/demo-judge "
    "-t judgelm-pair-ref -o calibration.json\n\n"
    "  judgecli calibrate --judgments judged.jsonl --budget 0.3 -o calibration.json\n\n"
    "  judgecli calibrate --judgments weak.jsonl --fallback-judgments strong.jsonl\n\n"
    "Then: judgecli judge FILE --judge J --calibration calibration.json "
    "--fallback openai:gpt-4o")


@judging_options(without=("resume", *JudgingArgs.ROLES), helps={
    "judge": "The judge to calibrate (one): a local model folder or hub id, hf:PATH, a .gguf "
             "file, or openai:MODEL (default: as judge's --judge).",
    "template": "Its template: a bundled one (judgecli templates) or a .json file (default: "
                "chosen from the items)."})
def calibrate(
    labelled: Annotated[str | None, typer.Argument(
        metavar="LABELLED", help="Labelled items (a gold `label` each) to judge with "
                                 "--judge.")] = None,
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
    delta: Annotated[float | None, typer.Option(
        min=0, max=1, metavar="DELTA",
        help="Choose the threshold with a guarantee (Trust or Escalate): the kept verdicts "
             "fall below --target-accuracy on new items with probability at most DELTA "
             "(e.g. 0.1). Without it the threshold is empirical: it meets the target on "
             "these items, and on new ones about half the time.")] = None,
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")
                       ] = False,
    *, args: JudgingArgs,
) -> None:
    """Which indicator predicts the judge's correctness; a threshold for the cascade."""
    from ..calibration import calibrate as fit
    from ..calibration import dump, read_labelled
    from ..calibration.render import render as render_calibration
    from ..io.jsonl import check_input
    from ..io.output import check_output

    if (labelled is None) == (judgments is None):
        raise JudgecliError("give LABELLED with --judge, or --judgments FILE")
    unused = [name for name in args.given() if name not in ("--quiet", "--force")]
    if judgments is not None and unused:
        raise JudgecliError(f"{', '.join(unused)}: options of judging LABELLED; the "
                            "--judgments are judged already")
    for path in (labelled, judgments, fallback_judgments):
        if path is not None:
            check_input(path)
    check_output(output, force=args.force, resumable=False)
    check_output(judged_output, force=args.force, option="--judged-output", resumable=False)
    if budget is None and target_accuracy is None:
        target_accuracy = 0.9
    data = _judge_labelled(args, labelled, judged_output) if labelled is not None \
        else read_labelled(str(judgments))
    if data is None:
        return  # --dry-run
    fallback = read_labelled(fallback_judgments) if fallback_judgments else None
    if delta is not None and budget is not None:
        raise JudgecliError("--delta guarantees a --target-accuracy; it does not go with "
                            "--budget")
    result = fit(data, target_accuracy=None if budget is not None else target_accuracy,
                 budget=budget, indicator=indicator, fallback=fallback, delta=delta)
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
    from ..calibration import judge_labelled

    if len(args.judge or []) > 1 or len(args.template or []) > 1:
        raise JudgecliError("calibrate fits one judge with one template: give --judge and "
                            "--template once")
    if not args.judge and not args.dry_run:
        raise JudgecliError(no_judge(" to judge LABELLED"))
    need_judge(args)
    plan = make_plan(args, labelled)
    note_prompt_styles(plan.members, quiet=args.quiet)
    if args.dry_run:
        show_plan(args, labelled, plan, mapping=args.mapping)
        return None
    built = load_judges(args, plan, judged_output)
    with running(built):
        data, summary = judge_labelled(labelled, built.judging.judge, options=plan.options,
                                       judging=built.judging, mapping=args.mapping,
                                       skip_invalid=args.skip_invalid, output=judged_output,
                                       progress=args.progress)
    finish(summary, built)  # raises where --max-cost stopped the run
    fail_if_nothing_judged(summary)
    return data
