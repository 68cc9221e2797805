"""The judge and the other judging options from a project config and the environment
(issue 26 item 0): command line over config over environment over defaults, and where the
judge came from said on stderr; with none, one line listing the ways to name one."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import read_jsonl, run_cli, write_jsonl

PAIR = {"question": "What is 2 + 2?", "answer_a": "4", "answer_b": "5"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("JUDGECLI_JUDGE", "JUDGECLI_TEMPLATE", "JUDGECLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    write_jsonl(tmp_path / "in.jsonl", [PAIR])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_judge_lists_the_ways_to_name_one(project, monkeypatch, capsys) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    # One line, and no note about the template chosen before it (issue 26 item 10).
    assert len(lines) == 1 and "template" not in lines[0].split("no judge")[0], err
    for way in ("--judge", "$JUDGECLI_JUDGE", "judgecli.toml", "[tool.judgecli]",
                "examples/demo-judge"):
        assert way in lines[0]
    code, _, err = run_cli(monkeypatch, capsys, "compare", "a.jsonl", "b.jsonl")
    assert code == 2 and "no judge" in err


def test_the_judge_from_judgecli_toml(project, tiny_judge, monkeypatch, capsys) -> None:
    (project / "judgecli.toml").write_text(f'judge = "{tiny_judge}"\ntemplate = "judgelm-pair"\n'
                                           'max-new-tokens = 32\n')
    code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "-o", "out.jsonl")
    assert code == 0, err
    assert f"judgecli: judge {tiny_judge} (from judgecli.toml)" in err
    judgment = read_jsonl(project / "out.jsonl")[0]["judgment"]
    assert judgment["judge"] == str(tiny_judge) and judgment["template"] == "judgelm-pair"


def test_pyproject_is_found_from_a_subfolder_and_paths_are_its_own(
        project, tiny_judge, monkeypatch, capsys) -> None:
    # A judge folder named relative to the config's folder, run from a folder below it.
    (project / "judges").mkdir()
    (project / "judges" / "tiny").symlink_to(tiny_judge, target_is_directory=True)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.judgecli]\n'
                                            'judge = "judges/tiny"\nmode = "score"\n')
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    code, out, err = run_cli(monkeypatch, capsys, "judge", "../in.jsonl", "-t", "judgelm-pair")
    assert code == 0, err
    assert "(from ../pyproject.toml)" in err
    assert read_jsonl_text(out)[0]["judgment"]["mode"] == "score"


def read_jsonl_text(text: str) -> list[dict]:
    import json

    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_command_line_over_config_over_environment(project, monkeypatch, capsys) -> None:
    def template(*more: str) -> str:
        code, out, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "--dry-run", *more)
        assert code == 0, err
        return read_jsonl_text(out)[0]["template"]

    assert template() == "judgelm-pair"  # chosen from the item
    monkeypatch.setenv("JUDGECLI_TEMPLATE", "mtbench-pair")
    assert template() == "mtbench-pair"  # the environment
    (project / "judgecli.toml").write_text('template = "pandalm"\n')
    assert template() == "pandalm"  # the config over the environment
    assert template("-t", "basic-pair") == "basic-pair"  # the command line over both


@pytest.mark.parametrize("text,message", [
    ('jugde = "x"\n', "judgecli.toml: 'jugde' is not a judging option; known:"),
    ('max-cost = "five"\n', "judgecli.toml: 'max-cost' must be a number"),
    ('swap = "no"\n', "judgecli.toml: 'swap' must be true or false"),
    ('mode = "fast"\n', "judgecli.toml: mode must be one of auto, score, explain, not 'fast'"),
    ('judge = [\n', "judgecli.toml: not a valid TOML file"),
    ('force = true\n', "'force' is not a judging option"),  # never from a config
])
def test_a_bad_config_is_one_line_naming_file_and_key(project, monkeypatch, capsys, text,
                                                      message) -> None:
    (project / "judgecli.toml").write_text(text)
    code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "--dry-run")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_bad_environment_value_names_the_variable(project, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JUDGECLI_SWAP", "maybe")
    code, _, err = run_cli(monkeypatch, capsys, "judge", "in.jsonl", "--dry-run")
    assert code == 2 and "$JUDGECLI_SWAP must be true or false, not 'maybe'" in err
