"""Typer parameter sharing for the judging commands: :func:`judging_options` gives a
command the options of :class:`~judgecli.cli.options.JudgingArgs` (declared once there) and
fills those left at their defaults from the project config or the environment
(:mod:`judgecli.cli.config`)."""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from collections.abc import Callable, Collection, Sequence
from dataclasses import MISSING
from typing import Annotated, Any

import typer

from ..errors import JudgecliError
from ..judging.choices import COMBINE_RULES, MODES, VOTES
from .options import APIS, DTYPES, JudgingArgs, option_fields


def _with_help(hint: Any, text: str | None) -> Any:
    """An option's ``Annotated`` type with another help text."""
    if text is None:
        return hint
    kind, info = typing.get_args(hint)
    info = copy.copy(info)
    info.help = text
    return Annotated[kind, info]


CONTEXT = "judgecli_context"
CHOICES = {"mode": MODES, "combine": COMBINE_RULES, "panel_vote": VOTES, "api": APIS,
           "dtype": DTYPES}
NOT_CONFIGURED = ("resume", "force", "dry_run")  # what a config or $JUDGECLI_* never sets


def configured(args: JudgingArgs, names: Sequence[str], context: Any = None) -> None:
    """Options left at their defaults on the command line (``context``: the command's
    click context, None outside one) take the project config's value, else the
    environment's (:mod:`judgecli.cli.config`); where the judge came from is said on
    stderr, and kept in ``args.origins``."""
    from .config import settings

    hints = typing.get_type_hints(JudgingArgs)
    kinds = {name: _kind(hints[name]) for name in names if name not in NOT_CONFIGURED}
    found = settings(kinds)
    for name, value in found.items():
        source = context.get_parameter_source(name) if context is not None else None
        if source is not None and source.name != "DEFAULT":
            continue  # the command line wins
        allowed = CHOICES.get(name)
        if allowed is not None and value.value not in allowed:
            raise JudgecliError(f"{value.origin}: {name.replace('_', '-')} must be one of "
                                f"{', '.join(allowed)}, not '{value.value}'")
        setattr(args, name, value.value)
        args.origins[name] = value.origin
    if "judge" in args.origins and not args.quiet:
        typer.echo(f"judgecli: judge {', '.join(args.judge or [])} (from "
                   f"{args.origins['judge']})", err=True)


def _kind(hint: Any) -> type:
    """The type an option's value has: str, int, float, bool or list."""
    for kind in typing.get_args(hint) or (hint,):
        if kind is not type(None):
            return list if typing.get_origin(kind) is list else kind
    return str


def judging_options(*, without: Collection[str] = (), helps: dict[str, str] | None = None,
                    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options (all of :class:`JudgingArgs` but ``without``,
    which keep their defaults) after its own: it declares a parameter ``args`` instead and
    receives them there as one :class:`JudgingArgs`. ``helps``: another help text for some
    of them in this command (calibrate's --judge takes no panel)."""
    hints = typing.get_type_hints(JudgingArgs, include_extras=True)
    assert all(f.default is not MISSING for f in option_fields())
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                annotation=_with_help(hints[f.name], (helps or {}).get(f.name)))
              for f in option_fields() if f.name not in without]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = inspect.signature(command, eval_str=True)
        params = [p for name, p in own.parameters.items() if name != "args"]

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            context = values.pop(CONTEXT)
            args = JudgingArgs(**{p.name: values.pop(p.name) for p in shared})
            configured(args, [p.name for p in shared], context)
            return command(args=args, **values)

        # Typer hands a parameter annotated typer.Context the command's context, which
        # tells an option given on the command line from one left at its default.
        offered = params + shared + [inspect.Parameter(
            CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
        run.__signature__ = own.replace(parameters=offered)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in offered}
        return run

    return decorate
