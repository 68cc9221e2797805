"""``judgecli report``'s options and ``judgecli convert``: the command lines of
:mod:`judgecli.report` (registered on the app in :mod:`judgecli.cli.commands`, which stays a
module of the judging commands)."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import JsonOpt, SeedOpt, StyleControlOpt, choice

ERRORS = ("wrong", "tie", "drop")  # report.summary.ERROR_POLICIES (numpy is not imported)
REPORT_EPILOG = ("Examples:\n\n"
                 "  judgecli report judged.jsonl\n\n"
                 "  judgecli report judged.jsonl --labels gold.jsonl --by category --json\n\n"
                 "  judgecli report judged.jsonl --labels some-gold.jsonl --alpha 0.1\n\n"
                 "  judgecli report judge1.jsonl judge2.jsonl --fail-under agreement=0.8 "
                 "--fail-over position_bias=0.1\n\n"
                 "Exit codes: 0 ok, 1 a --fail-under/--fail-over gate failed, 2 bad input.")


def report(
    files: Annotated[list[str], typer.Argument(
        metavar="FILES", help="Judgment JSONL file(s) written by `judgecli judge`, or - for "
                              "stdin. Several files are reported side by side on the ids "
                              "they share.")],
    labels: Annotated[str | None, typer.Option(
        metavar="FILE", help="JSONL of {\"id\", \"label\"} lines, joined by id (replaces "
                             "`label`).")] = None,
    errors: Annotated[str, choice(
        ERRORS, "How a failed judgment counts: wrong, tie (as JudgeLM and PandaLM count "
                "them) or drop. The error rate is always shown.")] = "wrong",
    by: Annotated[str | None, typer.Option(
        metavar="FIELD[,FIELD]", help="One row per value of this field (a dotted path; "
                                      "several joined by commas, e.g. model_a,model_b).")
    ] = None,
    field_map: Annotated[list[str] | None, typer.Option(
        "--map", metavar="DST=SRC", help="Read a figure's field from elsewhere (repeatable), "
                                         "e.g. --map verdict=winner --map label=gold.")
    ] = None,
    as_json: JsonOpt = False,
    plot: Annotated[str | None, typer.Option(
        metavar="FILE", help="Write a reliability diagram and accuracy-coverage curve (.png, "
                             ".svg or .html; needs matplotlib).")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(
        metavar="FIGURE=VALUE", help="Exit 1 when FIGURE is below VALUE (repeatable).")
    ] = None,
    fail_over: Annotated[list[str] | None, typer.Option(
        metavar="FIGURE=VALUE", help="Exit 1 when FIGURE is above VALUE (repeatable).")
    ] = None,
    seed: SeedOpt = 0,
    baseline: Annotated[str | None, typer.Option(
        metavar="MODEL",
        help="Arena-Hard's baseline model (model_a / model_b), for its ranking of files "
             "with five-level verdicts (judgment.orders[].label5) and for --style-control; "
             "default: the one model in every record. Also the model fixed at 1000 in "
             "judge-corrected Bradley-Terry ratings (default: the first model named).")] = None,
    rounds: Annotated[int, typer.Option(
        min=1, metavar="N",
        help="Bootstrap rounds of Arena-Hard's figures (its --num-rounds).")] = 100,
    alpha: Annotated[float, typer.Option(
        metavar="A", help="When labels cover only part of the items: the judge-corrected "
                          "(PPI++) intervals are at level 1 - A.")] = 0.05,
    alpacaeval_gamed: Annotated[str | None, typer.Option(
        metavar="FILE",
        help="AlpacaEval's df_gamed.csv (from its data set tatsu-lab/alpaca_eval), or a "
             "folder holding it: the length-controlled win rate exactly as AlpacaEval "
             "computes it, with instruction difficulty; without it the report shows an "
             "approximation, named as such.")] = None,
    style_control: StyleControlOpt = False,
) -> None:
    """Agreement, bias and reliability of judgment files."""
    import json

    from ..io.records import parse_map
    from ..report import ReportOptions, build_report, check_gates, parse_gates, render
    from ..report import as_json as to_json

    gates = parse_gates(fail_under or [], fail_over or [])
    options = ReportOptions(errors=errors, labels=labels, seed=seed, baseline=baseline,
                            rounds=rounds, alpha=alpha, alpacaeval_gamed=alpacaeval_gamed,
                            style_control=style_control,
                            by=tuple(f.strip() for f in by.split(",")) if by else (),
                            mapping=parse_map(field_map or []))
    summaries = build_report(files, options)
    if baseline is not None and not style_control and all(
            s.get("arenahard_labels") is None and not (s.get("corrected") or {}).get("ratings")
            for s in summaries):
        from ..errors import JudgecliError

        raise JudgecliError("--baseline: no five-level verdicts (judgment.orders[].label5) "
                            "in " + ", ".join(s["file"] for s in summaries))
    if alpacaeval_gamed is not None and all(s.get("alpacaeval_n_total") is None
                                            for s in summaries):
        from ..errors import JudgecliError

        raise JudgecliError("--alpacaeval-gamed: no AlpacaEval preferences "
                            "(judgment.preference) in " + ", ".join(s["file"] for s in summaries))
    failures = check_gates(summaries, gates)
    if plot:
        from ..report.plot import write_plot
        write_plot(summaries, plot)
    if as_json:
        typer.echo(json.dumps(to_json(summaries), indent=2, allow_nan=False))
    else:
        render(summaries)
    for failure in failures:
        typer.echo(f"judgecli: gate failed: {failure}", err=True)
    if failures:
        raise typer.Exit(1)


CONVERT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True,
                    "help_option_names": []}


def convert(ctx: typer.Context) -> None:
    """Published judges' result files -> judgment records: pandalm, llmbar, judgelm,
    alpacaeval, arenahard, mtbench (`judgecli convert FORMAT --help`)."""
    # The arguments are :func:`judgecli.report.convert.main`'s (argparse, one subcommand per
    # format), so `python -m judgecli.report.convert` and this command cannot drift apart.
    from ..report.convert import main

    raise typer.Exit(main(list(ctx.args)))
