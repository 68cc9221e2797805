"""Data parallel judging with `accelerate launch`: the merged output equals the single-process
output record for record, and an interrupted parallel run finishes with --resume."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import write_jsonl

ACCELERATE = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
              "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "judgecli"]


def items(n: int) -> list[dict]:
    return [{"id": f"x{i}", "question": f"Is {i} even?", "answer_a": "yes" if i % 2 == 0 else "no",
             "answer_b": "maybe " * (i % 5)} for i in range(n)]


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate's launcher missing")
def test_two_processes_merge_to_the_single_process_output(tmp_path, tiny_judge) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", items(45))
    args = ["judge", str(src), "--judge", str(tiny_judge), "--batch-size", "2", "-q"]
    single = tmp_path / "single.jsonl"
    # The launcher gives each process one thread (OMP_NUM_THREADS=1); the single process
    # uses the same, since a matmul's sums depend on how the threads split them.
    subprocess.run([sys.executable, "-m", "judgecli", *args, "-o", str(single)], check=True,
                   env={**_env(), "OMP_NUM_THREADS": "1"})
    parallel = tmp_path / "parallel.jsonl"
    run = subprocess.run([*ACCELERATE, *args, "-o", str(parallel)], capture_output=True,
                         text=True, timeout=600, env={**_env(), "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert parallel.read_text() == single.read_text()
    assert not list(tmp_path.glob("parallel.jsonl.part*"))  # shards merged and removed


def test_resume_of_an_interrupted_shard(tmp_path, tiny_judge, monkeypatch) -> None:
    """A rank killed midway leaves its shard; the resumed run judges only what is missing."""
    src = write_jsonl(tmp_path / "in.jsonl", items(20))
    args = [sys.executable, "-m", "judgecli", "judge", str(src), "--judge", str(tiny_judge),
            "--batch-size", "2", "-q"]
    single = tmp_path / "single.jsonl"
    subprocess.run([*args, "-o", str(single)], check=True, env=_env())
    out = tmp_path / "out.jsonl"
    # Rank 1 of 2 as a launcher would start it: it finishes its shard and leaves it.
    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    subprocess.run([*args, "-o", str(out)], check=True, env={**_env(), **env})
    part0 = tmp_path / "out.jsonl.part0-of-2"
    assert (tmp_path / "out.jsonl.part1-of-2.done").exists() and not part0.exists()
    # Rank 0 with --resume: judges its windows, waits for rank 1's shard, merges.
    resumed = subprocess.run([*args, "-o", str(out), "--resume"], capture_output=True,
                             text=True, env={**_env(), "WORLD_SIZE": "2", "RANK": "0",
                                             "LOCAL_RANK": "0"})
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text() == single.read_text()


def _env() -> dict[str, str]:
    import os

    # One thread each, so that every run sums in the same order and the files match exactly.
    return {**{k: v for k, v in os.environ.items()
               if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}, "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize(("world", "local", "noted"), [("4", "2", True), ("4", "4", False),
                                                       ("4", None, False)])
def test_a_launch_across_machines_is_told_of_ray(monkeypatch, capsys, world, local,
                                                 noted) -> None:
    """accelerate launch across machines (LOCAL_WORLD_SIZE below WORLD_SIZE, as torchrun sets
    them) gets a note from process 0 that --ray is the way; one machine gets none."""
    from judgecli.cli.commands import _note_machines

    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "0")
    if local is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
    _note_machines(quiet=False)
    said = capsys.readouterr().err
    assert ("--ray judges across machines" in said) is noted
    monkeypatch.setenv("RANK", "1")  # only process 0 says it
    _note_machines(quiet=False)
    assert capsys.readouterr().err == ""
