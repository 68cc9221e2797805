"""What a new user met on the command line (issue 26 items 8, 9, 11 and 13's help): each
note names what is used and how to choose otherwise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import run_cli, write_jsonl

PAIR = {"question": "What is 2 + 2?", "answer_a": "4", "answer_b": "5"}
CHAT = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"


def test_a_chat_judge_given_a_plain_text_prompt_is_told(tmp_path, tiny_judge, monkeypatch,
                                                        capsys) -> None:
    chat, plain = tmp_path / "chat-judge", tmp_path / "plain-judge"
    for folder in (chat, plain):
        shutil.copytree(tiny_judge, folder)
        (folder / "chat_template.jinja").unlink(missing_ok=True)
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config.pop("chat_template", None)
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (chat / "chat_template.jinja").write_text(CHAT)
    source = write_jsonl(tmp_path / "in.jsonl", [PAIR])
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(source), "--judge", str(chat),
                           "--dry-run")
    assert code == 0, err
    assert f"note: {chat} has a chat template, but template judgelm-pair is a plain-text" in err
    assert "-t mtbench-pair" in err
    # A chat template, or a judge without one, or -q: no note.
    for args in (["--judge", str(chat), "-t", "mtbench-pair"], ["--judge", str(plain)],
                 ["--judge", str(chat), "-q"]):
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(source), *args, "--dry-run")
        assert code == 0 and "chat template" not in err, err


def test_the_reference_hint_names_a_template_that_exists(tmp_path, monkeypatch,
                                                         capsys) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{**PAIR, "reference": "4"}])
    _, _, err = run_cli(monkeypatch, capsys, "judge", str(source), "-t", "judgelm-pair",
                        "--dry-run")
    assert "template judgelm-pair does not show the judge; judgelm-pair-ref does" in err
    for name in ("autoj-pair", "arena-hard", "basic-pair"):  # no -ref variant
        _, _, err = run_cli(monkeypatch, capsys, "judge", str(source), "-t", name,
                            "--dry-run")
        assert "-ref does" not in err and "no variant of it shows one" in err, err


def test_templates_name_shows_which_record_field_fills_each_placeholder(
        monkeypatch, capsys) -> None:
    for name, shown in (("alpacaeval2", "{instruction} <- question, {output_1} <- answer_a, "
                                        "{output_2} <- answer_b"),
                        ("arena-hard", "{QUESTION} <- question, {ANSWER_A} <- answer_a"),
                        ("prometheus-absolute", "{response} <- answer, {rubric}")):
        code, out, _ = run_cli(monkeypatch, capsys, "templates", name)
        assert code == 0 and shown in out, out


def test_calibrate_help_speaks_of_one_judge(monkeypatch, capsys) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "calibrate", "--help")
    judge_help = out.split("--judge MODEL", 1)[1].split("--template", 1)[0]
    assert code == 0 and "panel" not in judge_help and "(one)" in judge_help
    code, out, _ = run_cli(monkeypatch, capsys, "judge", "--help")
    assert "panel" in out.split("--judge MODEL", 1)[1].split("--template", 1)[0]


def test_the_readme_python_examples_run_and_leave_nothing_unclosed(tmp_path, tiny_judge) -> None:
    """Issue 26 item 12: the README's Python section, run as written (the hub judge replaced
    by the tiny local one, OpenAI by the loopback server), ends without aiohttp's "Unclosed
    client session"."""
    import os
    import re
    import subprocess
    import sys

    from fault_server import FaultServer

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    code = "\n".join(blocks).replace('"BAAI/JudgeLM-7B-v1.0"', repr(str(tiny_judge)))
    write_jsonl(tmp_path / "pairs.jsonl", [PAIR, {**PAIR, "answer_b": "four"}])
    with FaultServer() as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test",
               "JUDGECLI_CACHE_DIR": str(tmp_path / "cache")}
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Unclosed" not in done.stderr and "judged 2" in done.stdout
    assert (tmp_path / "panel.jsonl").exists() and (tmp_path / "reviewed.jsonl").exists()


def test_a_mistyped_judge_is_named_before_any_note(tmp_path, tiny_judge, monkeypatch,
                                                   capsys) -> None:
    """Issue 26 item 10: the note on the template chosen came before unrelated errors."""
    source = write_jsonl(tmp_path / "in.jsonl", [PAIR])
    typo = str(tiny_judge)[:-1]
    for command in (["judge", str(source)], ["calibrate", str(source)]):
        code, _, err = run_cli(monkeypatch, capsys, *command, "--judge", typo)
        assert code == 2 and err.strip().splitlines() == [
            f"judgecli: error: no such judge folder '{typo}'; did you mean '{tiny_judge}'?"], err


def test_a_single_answer_judgment_names_no_order(tmp_path, tiny_judge, monkeypatch,
                                                 capsys) -> None:
    """Issue 26 item 13: one answer has no order; its orders[] entry said "AB"."""
    import json as json_

    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "What is 2 + 2?", "answer": "4",
                                                  "reference": "4"}])
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(source), "--judge",
                             str(tiny_judge), "-t", "judgelm-single-ref", "-q")
    assert code in (0, 1), err
    judgment = json_.loads(out)["judgment"]
    assert len(judgment["orders"]) == 1 and "order" not in judgment["orders"][0]
