"""The judging options are declared once (judgecli/cli/options.py) and mean the same in
judge, compare and calibrate; every option's help is readable; every summary names its judge,
template and whose win rate it gives (issue 16 items 17, 18 and 20)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from conftest import read_jsonl, run_cli, write_jsonl
from typer.testing import CliRunner

from judgecli.cli.commands import app
from judgecli.cli.options import APIS, JudgingArgs, option_fields

JUDGING = ("judge", "compare", "calibrate")
ROLES = ("panel_vote", "review_judge", "review_template", "calibration", "fallback",
         "fallback_template")
SHARED = [f.name for f in option_fields()]
NOT_CALIBRATE = (*ROLES, "resume")  # calibrate fits one judge and writes a new file


def _params(command: str) -> dict[str, typer.core.click.Parameter]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=80,
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_option_is_the_same_in_every_command_that_judges(name: str) -> None:
    commands = [c for c in JUDGING if not (c == "calibrate" and name in NOT_CALIBRATE)]
    seen = [_params(c)[name] for c in commands]
    first = seen[0]
    for command, param in zip(commands, seen, strict=True):
        # calibrate words --judge and --template for its one judge
        same_help = command == "calibrate" and name in ("judge", "template") or \
            param.help == first.help
        assert (param.opts, param.secondary_opts, param.metavar, param.default) == \
            (first.opts, first.secondary_opts, first.metavar, first.default) and same_help, \
            f"{command} declares --{name} differently"
    # JudgingArgs' defaults are the options' (calibrate refuses them with --judgments by it).
    default = JudgingArgs()
    if name in JudgingArgs.API:
        assert first.default in (None, False)
    else:
        assert getattr(default, name) == (first.default if first.default != () else None)


def test_commands_declare_only_their_own_options() -> None:
    """Issue 24 item 2: the shared options are declared once (JudgingArgs); each judging
    command's own signature lists none of them, and receives them as one ``args``."""
    import inspect

    from judgecli.cli import calibrate, commands

    for function in (commands.judge, commands.compare, calibrate.calibrate):
        own = inspect.signature(function.__wrapped__).parameters  # type: ignore[attr-defined]
        assert not set(own) & set(SHARED), function.__name__
        assert "args" in own
        offered = inspect.signature(function).parameters  # what Typer reads
        assert set(SHARED) - set(NOT_CALIBRATE) <= set(offered)


def test_api_choices_are_the_backends() -> None:
    from judgecli.backends.openai.judge import APIS as BACKEND_APIS

    assert APIS == BACKEND_APIS


@pytest.mark.parametrize("command", ["judge", "compare", "calibrate", "report", "templates"])
def test_help_names_values_not_types(command: str) -> None:
    text = _help(command)
    assert not re.search(r"<(str|int|float|list\[str\]|int range|float range)>", text), text
    assert "{" not in text.split("\n", 1)[0], "the usage line shows Typer's {name}"
    for name, param in _params(command).items():
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            assert param.help, f"{command} --{name} has no help"
            assert getattr(param, "is_flag", False) or param.metavar, \
                f"{command} --{name} has no metavar"
    assert all(len(line) <= 80 for line in text.splitlines()), text


def test_help_lists_the_choices() -> None:
    text = _help("judge")
    for shown in ("--mode [auto|score|explain]", "--combine [strict|average]",
                  "--panel-vote [majority|mean|unanimous]", "--api [chat|completions]"):
        assert shown in text
    assert "--errors [wrong|tie|drop]" in _help("report")
    from judgecli.report.summary import ERROR_POLICIES
    assert _params("report")["errors"].metavar == "[" + "|".join(ERROR_POLICIES) + "]"
    from judgecli.calibration import INDICATORS, NO_INDICATOR
    assert _params("calibrate")["indicator"].metavar == \
        "[" + "|".join((*INDICATORS, NO_INDICATOR)) + "]"



def test_a_value_outside_the_choices_is_a_one_line_error(monkeypatch, capsys) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "judge", "x.jsonl", "--mode", "fast")
    assert (code, err) == (2, "judgecli: error: --mode must be one of auto, score, explain, "
                              "not 'fast'\n")


def test_convert_help_names_every_format() -> None:
    result = CliRunner().invoke(app, ["convert", "--help"])
    assert result.exit_code == 0
    for name in ("pandalm", "llmbar", "judgelm", "alpacaeval"):
        assert name in result.output


# -- compare and calibrate take the judging options --------------------------------------------
def answers(model: str, n: int, good: bool) -> list[dict]:
    return [{"id": i, "question": f"q{i}", "answer": ("GOOD " if good else "BAD ") + str(i),
             "model": model} for i in range(n)]


def test_compare_dry_run_prints_the_prompts_and_the_cost(tmp_path, monkeypatch, capsys) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", answers("model-a", 3, False))
    b = write_jsonl(tmp_path / "b.jsonl", answers("model-b", 3, True))
    code, out, err = run_cli(monkeypatch, capsys, "compare", str(a), str(b), "--judge",
                             "openai:gpt-4o", "-t", "mtbench-pair", "--dry-run",
                             "--max-cost", "1", "--no-swap")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["order"] for r in rows] == ["AB"] * 3 and rows[0]["template"] == "mtbench-pair"
    assert "3 prompt(s); nothing judged" in err and "estimate for openai:gpt-4o" in err


def test_compare_judges_through_an_api_and_names_judge_template_and_cost(
        tmp_path, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    a = write_jsonl(tmp_path / "a.jsonl", answers("model-a", 4, False))
    b = write_jsonl(tmp_path / "b.jsonl", answers("model-b", 4, True))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer() as server:
        args = ("compare", str(a), str(b), "--judge", "openai:gpt-4o", "-t", "mtbench-pair",
                "--mode", "explain", "--base-url", server.url, "--concurrency", "2",
                "--max-cost", "5", "--max-new-tokens", "64", "--cache-dir",
                str(tmp_path / "cache"), "-q")
        code, out, err = run_cli(monkeypatch, capsys, *args)
        assert server.total == 8  # both orders of four prompts
        assert code == 0, err
        assert "judged 4" in err and re.search(r"\$\d", err), err  # the cost line
        assert "judge openai:gpt-4o, template mtbench-pair" in out
        assert "win rate of model-b 1.00" in out and "p = 0.125" in out
        code, out, err = run_cli(monkeypatch, capsys, *args, "--json")
        assert server.total == 8  # every reply from the cache
    assert code == 0, err
    result = json.loads(out)
    assert (result["judge"], result["template"]) == ("openai:gpt-4o", "mtbench-pair")
    assert result["pairs"][0]["win_rate_of"] == "model-b"


def test_compare_checks_roles_as_judge_does(tmp_path, monkeypatch, capsys) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", answers("model-a", 2, False))
    b = write_jsonl(tmp_path / "b.jsonl", answers("model-b", 2, True))
    for extra, message in ((["--calibration", "c.json"], "needs both --calibration"),
                           (["--judge", "y", "--review-judge", "z"], "give one --judge"),
                           (["--base-url", "http://x"], "only for API judges"),
                           (["--combine", "mean"], "--combine must be one of")):
        code, _, err = run_cli(monkeypatch, capsys, "compare", str(a), str(b), "--judge", "x",
                               *extra)
        assert code == 2 and message in err, err


def test_compare_skip_invalid_leaves_bad_records_out(tmp_path, monkeypatch, capsys) -> None:
    rows = answers("model-a", 3, False)
    rows[1]["answer"] = 7
    a = write_jsonl(tmp_path / "a.jsonl", rows)
    with open(a, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    b = write_jsonl(tmp_path / "b.jsonl", answers("model-b", 3, True))
    args = ("compare", str(a), str(b), "-t", "mtbench-pair", "--dry-run", "--no-swap")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and "a.jsonl:2: field 'answer'" in err
    code, out, err = run_cli(monkeypatch, capsys, *args, "--skip-invalid")
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [0, 2]
    rejected = read_jsonl(tmp_path / "a.rejected.jsonl")
    assert [r["line"] for r in rejected] == [2, 4] and rejected[0]["field"] == "answer"
    assert "2 bad record(s)" in err and "1 prompt(s) not in every file left out" in err


def labelled(n: int) -> list[dict]:
    # The gold label sits under another name: --map label=gold.
    return [{"id": i, "question": f"q{i}", "answer_a": "GOOD" if i % 2 else "BAD",
             "answer_b": "BAD" if i % 2 else "GOOD", "gold": "A" if i % 2 else "B"}
            for i in range(n)]


def test_calibrate_takes_the_judging_options(tmp_path, monkeypatch, capsys) -> None:
    from fault_server import FaultServer

    src = write_jsonl(tmp_path / "labelled.jsonl", labelled(12))
    judged = tmp_path / "judged.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FaultServer() as server:
        code, out, err = run_cli(
            monkeypatch, capsys, "calibrate", str(src), "--judge", "openai:gpt-4o",
            "-t", "mtbench-pair", "--map", "label=gold", "--mode", "explain", "--no-swap",
            "--base-url", server.url, "--max-new-tokens", "64", "--cache-dir",
            str(tmp_path / "cache"), "--judged-output", str(judged), "--budget", "0.2", "-q")
        assert server.total == 12  # --no-swap: one order each
    assert code == 0, err
    assert "judged 12" in err and re.search(r"\$\d", err), err
    assert "Indicators of judge openai:gpt-4o, template mtbench-pair (explain mode)" in out
    records = read_jsonl(judged)
    assert {r["judgment"]["mode"] for r in records} == {"explain"}
    assert all(len(r["judgment"]["orders"]) == 1 for r in records)


def test_calibrate_dry_run_and_refusals(tmp_path, monkeypatch, capsys) -> None:
    src = write_jsonl(tmp_path / "labelled.jsonl", labelled(2))
    code, out, err = run_cli(monkeypatch, capsys, "calibrate", str(src), "-t", "mtbench-pair",
                             "--dry-run")
    assert code == 0 and len(out.splitlines()) == 4 and "4 prompt(s)" in err
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", str(src), "--judge", "a",
                           "--judge", "b")
    assert code == 2 and "one judge with one template" in err
    code, _, err = run_cli(monkeypatch, capsys, "calibrate", "--judgments", str(src),
                           "--mode", "score", "--no-swap")
    assert code == 2 and "--mode, --no-swap: options of judging LABELLED" in err


# -- item 20: who judged, whose win rate, p < 0.001 ----------------------------------------------
def test_sentences_say_p_below_and_whose_win_rate() -> None:
    from judgecli.compare.render import verdict_sentence

    pair = {"model_a": "m-a", "model_b": "m-b", "win_rate": 0.8, "significant": True,
            "sign_test_p": 1e-5, "win_rate_ci": [0.7, 0.9]}
    text = verdict_sentence(pair)
    assert text == "m-b is better than m-a: win rate of m-b 0.80 [0.70, 0.90], sign test " \
                   "p < 0.001"
    text = verdict_sentence({**pair, "significant": False, "sign_test_p": 0.5})
    assert "win rate of m-b 0.80" in text and "p = 0.500" in text and "= <" not in text


def test_report_names_judge_and_template(tmp_path, monkeypatch, capsys) -> None:
    rows = [{"id": i, "label": "A", "judgment": {
        "judge": "openai:gpt-4o", "template": "mtbench-pair", "verdict": "A", "error": None,
        "orders": [{"order": "AB", "verdict": "A"}]}} for i in range(3)]
    path = write_jsonl(tmp_path / "judged.jsonl", rows)
    code, out, err = run_cli(monkeypatch, capsys, "report", str(path))
    assert code == 0, err
    assert "judge openai:gpt-4o, template mtbench-pair" in out.splitlines()[0]
    assert "win rate of A" in out


# -- templates ------------------------------------------------------------------------------------
def test_templates_lists_with_a_header_and_shows_one() -> None:
    result = CliRunner().invoke(app, ["templates"])
    assert result.exit_code == 0 and result.output.split()[:4] == ["NAME", "KIND", "STYLE",
                                                                    "DESCRIPTION"]
    result = CliRunner().invoke(app, ["templates", "judgelm-pair"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "parser:      scores (2 scores)" in text
    assert "score line:  '{1..10} {1..10}\\n'" in text
    assert "--- text ---" in text and "{answer_1}" in text
    text = CliRunner().invoke(app, ["templates", "mtbench-single-ref"]).output
    assert "--- system ---" in text and "--- user ---" in text and "{ref_answer_1}" in text
    assert "score line:  none" in text
    result = CliRunner().invoke(app, ["templates", "nope"])
    assert result.exit_code != 0


def test_templates_show_a_data_parser_as_what_it_reads_and_align_every_name() -> None:
    from judgecli import available

    text = CliRunner().invoke(app, ["templates", "alpacaeval2"]).output
    parser = next(line for line in text.splitlines() if line.startswith("parser:"))
    assert parser == "parser:      data: pattern \\A\\s*(m|M)\\s*\\Z (first match) -> " \
                     "verdict M -> B, m -> A"  # not the encoded regex:{...} spec
    text = CliRunner().invoke(app, ["templates", "prometheus-absolute"]).output
    assert "-> an integer in [1, 5], one of 1, 2, 3, 4, 5" in text
    lines = CliRunner().invoke(app, ["templates"]).output.splitlines()
    rows = [line for line in lines if line.split(" ")[0] in available() + ["NAME"]]
    assert len(rows) == len(available()) + 1
    # Every KIND column starts at one place, even after the longest name.
    assert len({line.index(line.split()[1], len(line.split()[0])) for line in rows}) == 1


FASTCHAT = Path(__file__).parent / "data" / "fastchat_judge_prompts.jsonl"


def test_mtbench_descriptions_say_what_each_fastchat_prompt_is() -> None:
    from judgecli import available, load_template

    prompts = {p["name"]: p for p in read_jsonl(FASTCHAT)}
    names = [n for n in available() if n.startswith("mtbench-")]
    assert len(names) == len(prompts) == 8
    for name in names:
        template = load_template(name)
        source = re.search(r"\('([\w-]+)'\)", template.source).group(1)
        assert f"'{source}'" in template.description
        text = template.description.lower()
        # FastChat's descriptions were copied wrongly ('single-math-v1': "Prompt for general
        # questions"); the name says what the prompt is.
        assert ("math" in text) == ("math" in source), name
        assert ("two-turn" in text) == source.endswith("multi-turn"), name
        assert ("pairwise" in text) == source.startswith("pair"), name
        assert ("reference answer" in text and "no reference" not in text) == \
            bool(template.requires), name
