"""The options of the commands that judge (``judge``, ``compare``, ``calibrate``), declared
once, and what turns their values into the library's objects.

Typer has no option groups: each option is an ``Annotated`` type here, reused in every
signature that takes it, so an option has one name, metavar, help and meaning everywhere.
:class:`JudgingArgs` collects a command's values (``JudgingArgs.of(locals())``) and builds
the roles, the judge options, the API options and the judges (:mod:`judgecli.assemble`),
prints a dry run's prompts, and ends a run with the same lines in every command: its
summary, each judge's tokens and cost, the cascade's share escalated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from .choices import COMBINE_RULES, MODES, VOTES
from .errors import BudgetExhausted, JudgecliError, NothingJudged

if TYPE_CHECKING:
    from .assemble import Assembled, Roles
    from .runner import JudgeOptions, RunSummary
    from .templates import Template

APIS = ("chat", "completions")  # judgecli.backends.openai_api.APIS (openai is not imported)


def choices(values: Sequence[str]) -> str:
    """The metavar of an option with fixed values: ``[a|b|c]``."""
    return "[" + "|".join(values) + "]"


def one_of(values: Sequence[str]) -> Callable[..., Any]:
    """A callback refusing a value outside ``values`` with the CLI's one-line error (None,
    an option left out, passes)."""
    def check(param: typer.CallbackParam, value: Any) -> Any:
        if value is not None and value not in values:
            raise JudgecliError(f"{param.opts[0]} must be one of {', '.join(values)}, not "
                                f"'{value}'")
        return value
    return check


def choice(values: Sequence[str], help: str, *decls: str) -> Any:
    return typer.Option(*decls, metavar=choices(values), callback=one_of(values), help=help)


# -- the options every judging command takes ------------------------------------------------
JudgeOpt = Annotated[list[str] | None, typer.Option(
    "--judge", "-j", metavar="MODEL",
    help="The judge: a local model folder or hub id, hf:PATH, a .gguf file, or openai:MODEL; "
         "several times for a panel (judge, compare).")]
TemplateOpt = Annotated[list[str] | None, typer.Option(
    "--template", "-t", metavar="TEMPLATE",
    help="A bundled template (judgecli templates) or a template .json file (default: chosen "
         "from the items, e.g. judgelm-pair-ref where they have a reference); for a panel, "
         "once for all or once per --judge.")]
ModeOpt = Annotated[str, choice(
    MODES, "score: only the score line, from next-token probabilities; explain: generate the "
           "whole judgment; auto: score where the template allows it.")]
SwapOpt = Annotated[bool, typer.Option(
    "--swap/--no-swap", help="Judge pairwise items in both orders and combine.")]
CombineOpt = Annotated[str, choice(
    COMBINE_RULES, "How both orders combine: strict (a winner only when both agree) or "
                   "average (each answer's scores averaged).")]
BatchSizeOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="Prompts per forward pass of a local judge (default: 8 on CPU; "
                             "on a GPU as many as fit in half its free memory, at most 256).")]
MaxNewTokensOpt = Annotated[int, typer.Option(
    min=1, metavar="N", help="The most tokens a judgment may take in explain mode.")]
MapOpt = Annotated[list[str] | None, typer.Option(
    "--map", metavar="DST=SRC", help="Read a field from another one (repeatable; SRC may be a "
                                     "dotted path), e.g. --map question=prompt.")]
SkipInvalidOpt = Annotated[bool, typer.Option(
    "--skip-invalid", help="Write bad input lines to FILE.rejected.jsonl and go on without "
                           "them.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Judge nothing: print each prompt as JSON (id, order, template, prompt) "
                      "and the tokens and cost of API judges.")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar, nor notes such as the template chosen.")]
BaseModelOpt = Annotated[str | None, typer.Option(
    metavar="MODEL", help="The local judge's base model, for Huang et al.'s calibrated "
                          "indicator.")]
# API judges (openai:MODEL).
BaseUrlOpt = Annotated[str | None, typer.Option(
    metavar="URL", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default: "
                        "$OPENAI_BASE_URL, else OpenAI's). The key is read from "
                        "$OPENAI_API_KEY.")]
ApiOpt = Annotated[str | None, choice(
    APIS, "chat (default), or completions: send completion templates as a raw prompt to "
          "/v1/completions (a server hosting a fine-tuned judge).")]
ConcurrencyOpt = Annotated[int | None, typer.Option(
    min=1, metavar="N", help="Requests in flight at once (default 16).")]
RpmOpt = Annotated[float | None, typer.Option(
    min=0.001, metavar="N", help="At most N requests a minute.")]
TpmOpt = Annotated[float | None, typer.Option(
    min=1, metavar="N", help="At most N tokens a minute (prompt estimate + max tokens).")]
TemperatureOpt = Annotated[float | None, typer.Option(
    min=0, metavar="T", help="Sampling temperature (default 0).")]
TimeoutOpt = Annotated[float | None, typer.Option(
    min=0.001, metavar="SECONDS", help="Before a request counts as timed out (default 60).")]
RetriesOpt = Annotated[int | None, typer.Option(
    min=0, metavar="N", help="Retries of a request after 429, 5xx, timeouts, dropped "
                             "connections or malformed replies (default 8).")]
MaxCostOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Stop before spending more than this; everything judged so "
                               "far is kept (finish with --resume).")]
PriceInOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Per million prompt tokens (default: the table of known "
                               "OpenAI models).")]
PriceOutOpt = Annotated[float | None, typer.Option(
    min=0, metavar="USD", help="Per million completion tokens.")]
CacheDirOpt = Annotated[str | None, typer.Option(
    metavar="DIR", help="Where replies are cached (default: $JUDGECLI_CACHE_DIR, else "
                        "$XDG_CACHE_HOME/judgecli).")]
NoCacheOpt = Annotated[bool, typer.Option(
    "--no-cache", help="Neither read nor write the reply cache.")]
BatchOpt = Annotated[bool, typer.Option(
    "--batch", help="Send API judges' requests through OpenAI's Batch API: half the price, "
                    "results within 24 hours; the batch ids are kept beside the output, so "
                    "the same command run again collects them without paying again.")]
# Roles beside the judge (judge and compare).
PanelVoteOpt = Annotated[str, choice(
    VOTES, "How a panel's verdicts combine (several --judge; see README).")]
ReviewJudgeOpt = Annotated[str | None, typer.Option(
    metavar="MODEL", help="A second-level judge that reviews each verdict and keeps or "
                          "overturns it.")]
ReviewTemplateOpt = Annotated[str | None, typer.Option(
    metavar="TEMPLATE", help="The reviewer's template (default: review-pair, review-single "
                             "or review-binary, after --template).")]
CalibrationOpt = Annotated[str | None, typer.Option(
    metavar="FILE", help="calibration.json from judgecli calibrate: with --fallback, "
                         "escalate the items it distrusts (the cascade).")]
FallbackOpt = Annotated[str | None, typer.Option(
    metavar="MODEL", help="The stronger judge escalated items go to, e.g. openai:gpt-4o.")]
FallbackTemplateOpt = Annotated[str | None, typer.Option(
    metavar="TEMPLATE", help="The fallback's template (default: --template).")]
# Output files and summaries.
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Skip ids already in the output and append the rest.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SeedOpt = Annotated[int, typer.Option(metavar="N", help="Seed of the bootstrap intervals.")]


@dataclass
class Plan:
    """What a judging command will do, checked before any model is loaded."""

    roles: Roles
    members: list[tuple[str | None, Template]]

    @property
    def options(self) -> JudgeOptions:
        assert self.roles.options is not None
        return self.roles.options


@dataclass
class JudgingArgs:
    """The values of the shared options; the defaults are the options'."""

    judge: list[str] | None = None
    template: list[str] | None = None
    mode: str = "auto"
    swap: bool = True
    combine: str = "strict"
    batch_size: int | None = None
    max_new_tokens: int = 512
    field_map: list[str] | None = None
    skip_invalid: bool = False
    dry_run: bool = False
    quiet: bool = False
    base_model: str | None = None
    api_options: dict[str, Any] = field(default_factory=dict)  # base_url ... as given
    panel_vote: str = "majority"
    review_judge: str | None = None
    review_template: str | None = None
    calibration: str | None = None
    fallback: str | None = None
    fallback_template: str | None = None

    API = ("base_url", "api", "concurrency", "rpm", "tpm", "temperature", "timeout",
           "retries", "max_cost", "price_in", "price_out", "cache_dir", "no_cache", "batch")

    @classmethod
    def of(cls, values: dict[str, Any]) -> JudgingArgs:
        """From a command's ``locals()``: the shared options it declares."""
        names = {f.name for f in fields(cls)}
        given = {k: values[k] for k in cls.API if values.get(k) is not None}
        if given.pop("no_cache", False):
            given["cache"] = False  # as the backend names it
        if not given.get("batch", True):
            del given["batch"]  # a flag left out is not an API option given
        return cls(api_options=given, **{k: v for k, v in values.items() if k in names})

    def given(self) -> list[str]:
        """The options set away from their defaults, as typed (``--mode``, ``--no-swap``)."""
        default = JudgingArgs()
        out = [("--no-swap" if f.name == "swap" else "--map" if f.name == "field_map" else
                "--" + f.name.replace("_", "-")) for f in fields(self)
               if f.name != "api_options" and getattr(self, f.name) != getattr(default, f.name)]
        return out + ["--no-cache" if k == "cache" else "--" + k.replace("_", "-")
                      for k in self.api_options]

    @property
    def mapping(self) -> dict[str, str]:
        from .records import parse_map

        return parse_map(self.field_map or [])

    @property
    def progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def plan(self, input_path: str | None, default: str | None = None) -> Plan:
        """Roles and templates; ``default``: the template when none is given (else chosen
        from ``input_path``'s first item). Wrong combinations fail here."""
        from .assemble import Roles
        from .defaults import choose_template, warn_unshown_reference
        from .templates import load_template

        templates = self.template or [default or choose_template(
            str(input_path), self.mapping, skip_invalid=self.skip_invalid, quiet=self.quiet)]
        roles = Roles(judges=self.judge or [], templates=templates, vote=self.panel_vote,
                      review_judge=self.review_judge, review_template=self.review_template,
                      calibration=self.calibration, fallback=self.fallback,
                      fallback_template=self.fallback_template)
        members: list[tuple[str | None, Template]] = \
            list(roles.members()) if self.judge else [(None, load_template(templates[0]))]
        if input_path is not None:
            warn_unshown_reference(input_path, self.mapping, [t for _, t in members],
                                   skip_invalid=self.skip_invalid)
        from .judging import JudgeOptions

        roles.options = JudgeOptions(template=members[0][1], mode=self.mode, swap=self.swap,
                                     combine=self.combine, max_new_tokens=self.max_new_tokens)
        roles.check_backend_options(self.api_options, self.base_model)
        return Plan(roles, members)

    def show(self, input_path: str, plan: Plan, *, mapping: dict[str, str] | None) -> None:
        """``--dry-run``: the prompts on stdout; their count and the API cost on stderr."""
        from .assemble import show_prompts

        count, estimates = show_prompts(input_path, plan.options, plan.members, sys.stdout,
                                        mapping=mapping, price_in=self.api_options.get("price_in"),
                                        price_out=self.api_options.get("price_out"),
                                        review=plan.roles.review_member(plan.members[0][1]),
                                        batch=self.api_options.get("batch", False),
                                        api=self.api_options.get("api") or "chat")
        typer.echo(f"{count} prompt(s); nothing judged", err=True)
        if self.review_judge:
            typer.echo("the review prompts hold the first judge's texts; not shown", err=True)
        for estimate in estimates:
            typer.echo(estimate.report(), err=True)

    def load(self, plan: Plan, output: str | None = None) -> Assembled:
        """Load every judge the plan names (each once). ``output``: the command's output
        file, which ``--batch`` keeps its state beside (None: stdout)."""
        from .assemble import assemble

        plan.roles.check()
        if not self.judge:
            raise JudgecliError("--judge is required (a model folder, a hub id, or "
                                "openai:MODEL)")
        api_options = {**self.api_options, "state_beside": output, "quiet": self.quiet} \
            if self.api_options.get("batch") else self.api_options
        return assemble(plan.roles, batch_size=self.batch_size, api_options=api_options,
                        local_options={"base_model": self.base_model}
                        if self.base_model else None)


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
    for one in built.judges:
        report = one.usage_report()
        if report:
            typer.echo(report, err=True)


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


class Command(TyperCommand):
    """Help as a person reads it: arguments named by their metavar (``INPUT``,
    ``[LABELLED]``, ``FILES...``) without Typer's labels of types (``{input}``, ``<str>``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument(param, usage=True))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        arguments = [(_argument(p), getattr(p, "help", None) or "") for p in params
                     if p.param_type_name == "argument"]
        options = [record for p in params if p.param_type_name == "option"
                   for record in [p.get_help_record(ctx)] if record is not None]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def _argument(param: Any, usage: bool = False) -> str:
    name = param.metavar or (param.name or "").upper()
    name += "..." if param.nargs != 1 else ""
    return f"[{name}]" if usage and not param.required else name
