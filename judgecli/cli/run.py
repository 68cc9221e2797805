"""What the judging commands do with their options: a plan checked before any model
loads (roles, templates, judge options), a dry run's prompts, the judges loaded, and the
lines every run ends with (its summary, each judge's tokens and cost, the cascade's share
escalated)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from ..errors import BudgetExhausted, JudgecliError, NothingJudged
from .options import JudgingArgs

if TYPE_CHECKING:
    from ..judging.runner import JudgeOptions, RunSummary
    from ..roles.assemble import Assembled, Roles
    from ..templates import Template


@dataclass
class Plan:
    """What a judging command will do, checked before any model is loaded."""

    roles: Roles
    members: list[tuple[str | None, Template]]

    @property
    def options(self) -> JudgeOptions:
        assert self.roles.options is not None
        return self.roles.options



def make_plan(args: JudgingArgs, input_path: str | None, default: str | None = None) -> Plan:
    """Roles and templates; ``default``: the template when none is given (else chosen
    from ``input_path``'s first item). Wrong combinations fail here."""
    from ..roles.assemble import Roles
    from .defaults import choose_template, warn_unshown_reference

    plain = JudgingArgs()
    if not args.template and len(args.judge or []) == 1 and not any(
            getattr(args, name) != getattr(plain, name) for name in JudgingArgs.ROLES) \
            and not args.api_options and not args.base_model and not args.ray_options \
            and not args.vllm_options:
        # One judge and no roles: no option can be wrong but the judge, so it is named
        # before the note on the template chosen (elsewhere loading names a missing folder,
        # after the options' own errors).
        check_judge_folders(args)
    templates = args.template or [default or choose_template(
        str(input_path), args.mapping, skip_invalid=args.skip_invalid, quiet=args.quiet)]
    roles = Roles(judges=args.judge or [], templates=templates, vote=args.panel_vote,
                  review_judge=args.review_judge, review_template=args.review_template,
                  calibration=args.calibration, fallback=args.fallback or [],
                  fallback_template=args.fallback_template or [], rubric=args.rubric)
    members: list[tuple[str | None, Template]] = \
        list(roles.members()) if args.judge else [(None, roles.template(templates[0]))]
    if input_path is not None:
        warn_unshown_reference(input_path, args.mapping, [t for _, t in members],
                               skip_invalid=args.skip_invalid)
    from ..judging.core import JudgeOptions

    roles.options = JudgeOptions(template=members[0][1], mode=args.mode, swap=args.swap,
                                 combine=args.combine, max_new_tokens=args.max_new_tokens,
                                 resample=args.resample)
    roles.check_backend_options(args.api_options, args.base_model, resample=args.resample,
                                ray_options=args.ray_options, vllm_options=args.vllm_options)
    return Plan(roles, members)


def show_plan(args: JudgingArgs, input_path: str, plan: Plan, *,
              mapping: dict[str, str] | None) -> None:
    """``--dry-run``: the prompts on stdout; their count and the API cost on stderr."""
    from ..roles.assemble import show_prompts

    count, estimates = show_prompts(input_path, plan.options, plan.members, sys.stdout,
                                    mapping=mapping, price_in=args.api_options.get("price_in"),
                                    price_out=args.api_options.get("price_out"),
                                    review=plan.roles.review_member(plan.members[0][1]),
                                    batch=args.api_options.get("batch", False),
                                    api=args.api_options.get("api") or "chat")
    typer.echo(f"{count} prompt(s); nothing judged", err=True)
    if args.review_judge:
        typer.echo("the review prompts hold the first judge's texts; not shown", err=True)
    for estimate in estimates:
        typer.echo(estimate.report(), err=True)
    for estimate in estimates:
        note = estimate.context_note(args.truncate)
        if note:
            typer.echo(f"judgecli: {note}", err=True)

def load_judges(args: JudgingArgs, plan: Plan, output: str | None = None) -> Assembled:
    """Load every judge the plan names (each once). ``output``: the command's output
    file, which ``--batch`` keeps its state beside (None: stdout)."""
    from ..roles.assemble import assemble

    plan.roles.check()
    if not args.judge:
        from .config import no_judge

        raise JudgecliError(no_judge())
    api_options = {**args.api_options, "state_beside": output, "quiet": args.quiet} \
        if args.api_options.get("batch") else args.api_options
    return assemble(plan.roles, batch_size=args.batch_size, api_options=api_options,
                    local_options={"base_model": args.base_model}
                    if args.base_model else None, truncate=args.truncate,
                    ray_options=args.ray_options, vllm_options=args.vllm_options)


@contextmanager
def running(built: Assembled) -> Iterator[None]:
    """Close the judges after the run; if it fails (or is interrupted), print what it used
    first, before the error line."""
    try:
        yield
    except BaseException:
        print_usage(built)
        raise
    finally:
        for one in built.judges:
            one.close()


def print_usage(built: Assembled) -> None:
    """Each judge's tokens and cost on a line named after it (a panel's or a review's
    judges, each once) and, with more than one, their total."""
    from ..backends.openai.pricing import CostMeter, total_report

    meters = {}
    for one in built.judges:
        report = one.usage_report()
        if report:
            typer.echo(f"{one.name}: {report}", err=True)
            meter = getattr(one, "meter", None)
            if isinstance(meter, CostMeter):
                meters[one.name] = meter
    if len(meters) > 1:
        typer.echo(total_report(meters), err=True)


def finish(summary: RunSummary, built: Assembled) -> None:
    """The lines every run ends with; a run stopped at ``--max-cost`` is an error."""
    typer.echo(summary.line(), err=True)
    if summary.rejected and summary.rejects:
        typer.echo(f"judgecli: {summary.rejected} bad line(s) written to {summary.rejects}",
                   err=True)
    print_usage(built)
    if built.cascade is not None:
        typer.echo(built.cascade.summary(), err=True)
    if summary.stopped:
        raise BudgetExhausted(summary.stopped)


def fail_if_nothing_judged(summary: RunSummary) -> None:
    if summary.judged and summary.errors == summary.judged:
        raise NothingJudged(f"every judgment failed ({summary.errors} of {summary.judged}); "
                            "each record's judgment.error says why")


def need_judge(args: JudgingArgs) -> None:
    """No judge is an error before any note on the template chosen (issue 26 item 10); a
    dry run needs none."""
    if args.dry_run:
        return
    if not args.judge:
        from .config import no_judge

        raise JudgecliError(no_judge())


def check_judge_folders(args: JudgingArgs) -> None:
    """A local judge folder that is not there, named at once ("did you mean ...?"); a dry
    run loads none."""
    if args.dry_run:
        return
    from ..backends import split_spec
    from ..backends.hf.paths import locate

    for spec in (*args.judge, args.review_judge, *(args.fallback or [])):
        if spec:
            kind, where = split_spec(spec)
            if kind in ("hf", "vllm"):
                locate(where)  # a mistyped folder: "did you mean ...?"
