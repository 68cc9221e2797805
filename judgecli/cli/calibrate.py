"""``judgecli calibrate``: judge labelled items (or read judgments already made) and fit
the indicator and threshold of the cascade (:mod:`judgecli.calibration`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import JudgecliError
from ..io.ids import id_key
from ..io.jsonl import iter_lines
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
    "  judgecli calibrate labelled.jsonl --judge J1 --fallback J2 --fallback openai:gpt-4o "
    "--target-accuracy 0.85 --delta 0.1 -o cascade.json\n\n"
    "Then: judgecli judge FILE --judge J --calibration calibration.json "
    "--fallback openai:gpt-4o")
CASCADE_ROLES = ("fallback", "fallback_template")


@judging_options(without=("resume", *(r for r in JudgingArgs.ROLES if r not in CASCADE_ROLES)),
                 helps={
    "judge": "The judge to calibrate (one): a local model folder or hub id, hf:PATH, a .gguf "
             "file, or openai:MODEL (default: as judge's --judge).",
    "template": "Its template: a bundled one (judgecli templates) or a .json file (default: "
                "chosen from the items).",
    "fallback": "A cascade: the next stage's judge, calibrated on the items the stages "
                "before it escalate (judged only those); repeat it, cheapest first. Then "
                "judge --calibration FILE with the same --fallback judges."})
def calibrate(
    labelled: Annotated[str | None, typer.Argument(
        metavar="LABELLED", help="Labelled items (a gold `label` each) to judge with "
                                 "--judge.")] = None,
    judgments: Annotated[list[str] | None, typer.Option(
        metavar="FILE", help="Reuse judgments already made (records with `label` and "
                             "`judgment`) instead of LABELLED; several times for a cascade, "
                             "one file per stage in order (each holding at least the items "
                             "the stages before it escalate).")] = None,
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
        metavar="[verdict_prob|entropy|swap|huang|huang_calibrated|none]",
        help="The indicator to threshold (default: the best AUROC; none: a judge with no "
             "confidence, whose verdicts are kept all or none).")] = None,
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

    if (labelled is None) == (not judgments):
        raise JudgecliError("give LABELLED with --judge, or --judgments FILE")
    unused = [name for name in args.given() if name not in ("--quiet", "--force")]
    if judgments and unused:
        raise JudgecliError(f"{', '.join(unused)}: options of judging LABELLED; the "
                            "--judgments are judged already (a cascade's: --judgments once "
                            "per stage)")
    if args.fallback_template and not args.fallback:
        raise JudgecliError("--fallback-template goes with --fallback")
    stages = 1 + len(args.fallback or []) if labelled is not None else len(judgments or [])
    if stages > 1:
        _check_cascade(budget, fallback_judgments, args)
    for path in (labelled, *(judgments or []), fallback_judgments):
        if path is not None:
            check_input(path)
    check_output(output, force=args.force, resumable=False)
    check_output(judged_output, force=args.force, option="--judged-output", resumable=False)
    if labelled is not None:
        for number in range(2, stages + 1):
            check_output(_stage_path(judged_output, number), force=args.force,
                         option="--judged-output", resumable=False)
    if budget is None and target_accuracy is None:
        target_accuracy = 0.9
    if delta is not None and budget is not None:
        raise JudgecliError("--delta guarantees a --target-accuracy; it does not go with "
                            "--budget")
    with tempfile.TemporaryDirectory(prefix="judgecli-cascade-") as tmp:
        # A cascade's later stages judge items taken from the first stage's judgments.
        first = judged_output or (os.path.join(tmp, "stage1.jsonl") if stages > 1 else None)
        data = _judge_labelled(_stage_args(args, (args.judge or [""])[0]) if stages > 1
                               else args, labelled, first) if labelled is not None \
            else read_labelled(str(judgments[0]))  # type: ignore[index]
        if data is None:
            return  # --dry-run
        if stages > 1:
            from ..calibration.stages import calibrate_cascade

            assert target_accuracy is not None
            later: list[Any] = _fallback_stages(args, str(first), judged_output) \
                if labelled is not None \
                else [read_labelled(path) for path in (judgments or [])[1:]]
            result = calibrate_cascade([data, *later], target_accuracy=target_accuracy,
                                       delta=delta, indicator=indicator,
                                       names=[str(labelled), *(args.fallback or [])]
                                       if labelled is not None else judgments)
        else:
            fallback = read_labelled(fallback_judgments) if fallback_judgments else None
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


def _check_cascade(budget: float | None, fallback_judgments: str | None,
                   args: JudgingArgs) -> None:
    if budget is not None:
        raise JudgecliError("a cascade of several stages is calibrated for "
                            "--target-accuracy, not --budget")
    if fallback_judgments is not None:
        raise JudgecliError("--fallback-judgments simulates one judge's cascade; a cascade "
                            "of several stages is calibrated from each stage's judgments")
    if args.dry_run:
        raise JudgecliError("--dry-run shows the first judge's prompts; the later stages "
                            "judge only what it escalates (leave out --fallback)")
    from ..roles.assemble import Roles

    roles = Roles(judges=list(args.judge or [])[:1],
                  calibration="(calibrating)" if args.fallback else None,
                  fallback=args.fallback or [],
                  fallback_template=args.fallback_template or [])
    roles.check()  # --fallback-template: once for all or once per --fallback
    # API options need an API judge at some stage (each stage gets them where it is one).
    roles.check_backend_options(args.api_options, None)


def _stage_args(args: JudgingArgs, spec: str, **changes: Any) -> JudgingArgs:
    """The options one stage of a cascade is judged with: its judge, no roles, and the API
    options only where it is an API judge."""
    from dataclasses import fields

    from ..backends import split_spec

    own = replace(args, judge=[spec] if spec else args.judge, fallback=None,
                  fallback_template=None, **changes)
    if spec and split_spec(spec)[0] != "openai":
        plain = JudgingArgs()
        own = replace(own, **{f.name: getattr(plain, f.name) for f in fields(JudgingArgs)
                              if f.name in JudgingArgs.API})
    return own


def _stage_path(judged_output: str | None, number: int) -> str | None:
    """Where stage ``number``'s judgments are kept: beside --judged-output."""
    if judged_output is None:
        return None
    root, ext = os.path.splitext(judged_output)
    return f"{root}.stage{number}{ext or '.jsonl'}"


def _fallback_stages(args: JudgingArgs, first: str, judged_output: str | None,
                     ) -> list[Callable[[list[Any]], Labelled]]:
    """``calibrate LABELLED --fallback J2 ...``: each later stage judges, when its turn
    comes, only the items the stages before it escalated (what it will see in ``judge``:
    the same template rule and mode ``auto``, as the cascade judges its fallbacks)."""
    from ..calibration import read_labelled

    templates = list(args.fallback_template or [])
    fallbacks = list(args.fallback or [])

    def stage(number: int, spec: str) -> Callable[[list[Any]], Labelled]:
        def judge(ids: list[Any]) -> Labelled:
            wanted = {id_key(i) for i in ids}
            with tempfile.TemporaryDirectory(prefix="judgecli-cascade-") as tmp:
                subset = os.path.join(tmp, f"stage{number}.jsonl")
                with open(subset, "w", encoding="utf-8") as handle:
                    for _, record in iter_lines(first):
                        if id_key(record.get("id")) in wanted:
                            record.pop("judgment", None)
                            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                template = templates[0] if len(templates) == 1 else \
                    templates[number - 2] if templates else (args.template or [None])[0]
                own = _stage_args(args, spec, template=[template] if template else None,
                                  mode="auto", base_model=None, quiet=True)
                out = _stage_path(judged_output, number) or os.path.join(tmp, "judged.jsonl")
                data = _judge_labelled(own, subset, out)
            assert data is not None
            return data
        return judge

    return [stage(number, spec) for number, spec in enumerate(fallbacks, start=2)]
