"""Issue 8, interruptions: kill -9 a `judge` run at random moments and finish it with --resume.

The measurement itself is bench/reliability.py (full size: 2,000 items x 20 kills); these
tests run it at CI's size and assert every figure. The kill moments are random: the seed is
printed, and JUDGECLI_RELIABILITY_SEED=N replays a run. A crash at any byte of the output
is checked exhaustively with an in-process judge (a kill -9 leaves a prefix of what was
written, so every prefix is a possible crash).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judgecli.backends.base import Completion, Judge, Request
from judgecli.errors import OutputError
from judgecli.judging.runner import JudgeOptions, judge_file
from judgecli.templates import load_template

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import reliability as bench  # noqa: E402

SIZE = bench.QUICK
# A fixed seed by default, so CI draws the same kill moments each time; set it to explore.
SEED = int(os.environ.get("JUDGECLI_RELIABILITY_SEED", "8"))


def test_kill_9_at_random_moments_with_a_local_judge(tmp_path: Path, tiny_judge: Path) -> None:
    n, kills = SIZE["local_items"], SIZE["local_kills"]
    result = bench.kill_local(tmp_path, tiny_judge, n, kills, seed=SEED)
    bench.print_table(f"kill-local (JUDGECLI_RELIABILITY_SEED={SEED})", bench.kill_rows(result))
    # A kill drawn for a moment after the run already finished does not land.
    assert 1 <= result.kills <= kills
    assert result.bad_prefixes == 0  # after every kill: a valid JSONL prefix, in input order
    assert result.final_ids == result.unique_ids == n  # nothing lost, nothing twice
    assert result.torn_lines == 0
    # Windows are fixed slices of the input, so the resumed runs batched every window as
    # the uninterrupted run did: the same bytes.
    assert result.identical == n


def test_kill_9_at_random_moments_with_an_api_judge_never_pays_twice(tmp_path: Path) -> None:
    n, kills = SIZE["api_items"], SIZE["api_kills"]
    result = bench.kill_api(tmp_path, n, kills, seed=SEED)
    bench.print_table(f"kill-api (JUDGECLI_RELIABILITY_SEED={SEED})", bench.kill_rows(result))
    extra = result.extra
    assert 1 <= result.kills <= kills
    assert result.bad_prefixes == 0
    assert result.final_ids == result.unique_ids == n and result.torn_lines == 0
    assert result.identical == n
    # Every prompt whose reply had been stored was answered by the cache after a kill.
    assert extra["asked_again_though_cached"] == 0 and extra["paid_twice"] == 0
    # Only replies in flight when a run was killed were asked for again: at most the
    # concurrency (4) per kill.
    assert extra["lost_in_flight"] <= 4 * kills
    assert extra["cache_rows"] == extra["prompts"] and extra["served_prompts_cached"]
    assert extra["cache_intact"]  # SQLite's integrity check, every reply whole
    assert extra["key_leaks"] == []


# -- a crash at any byte -----------------------------------------------------------------------
class CountingJudge(Judge):
    """A deterministic judge whose scores depend on the prompt; counts what it is asked."""

    name = "counting"

    def __init__(self) -> None:
        self.asked = 0

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        self.asked += len(requests)
        out = []
        for request in requests:
            text = request.prompt.text or ""
            out.append(Completion(text=f"{len(text) % 10 + 1} {sum(map(ord, text)) % 10 + 1}\n"
                                       "Because.", usage={"prompt_tokens": len(text) // 4}))
        return out


ROWS = [{"id": i if i % 3 else f"s{i}", "question": f"Q{i} ✓ {{x}}", "answer_a": "a" * (i % 7),
         "answer_b": f"b\r\n{i}", "meta": {"k": [i, None, True]}} for i in range(30)]
OPTIONS = JudgeOptions(template=load_template("judgelm-pair"), mode="explain")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    tmp = tmp_path_factory.mktemp("crash")
    source = write_jsonl(tmp / "in.jsonl", ROWS)
    judge_file(str(source), str(tmp / "ref.jsonl"), CountingJudge(), OPTIONS, progress=False,
               window=4)
    return source, (tmp / "ref.jsonl").read_bytes()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_crash_at_any_byte_leaves_a_prefix_that_resume_completes(
        tmp_path: Path, reference: tuple[Path, bytes], data: st.DataObject) -> None:
    source, full = reference
    cut = data.draw(st.integers(0, len(full)), label="cut")
    out = tmp_path / f"out{cut}.jsonl"
    out.write_bytes(full[:cut])
    complete = full[:cut].count(b"\n")
    for line in full[:cut].splitlines(keepends=True):  # what a crash leaves is readable
        if line.endswith(b"\n"):
            json.loads(line)
    judge = CountingJudge()
    summary = judge_file(str(source), str(out), judge, OPTIONS, progress=False, window=4,
                         resume=True)
    assert out.read_bytes() == full
    assert summary.resumed == complete and summary.judged == len(ROWS) - complete
    assert judge.asked == 2 * (len(ROWS) - complete)  # nothing judged twice


def test_an_existing_output_is_never_overwritten_without_resume_or_force(
        tmp_path: Path, reference: tuple[Path, bytes]) -> None:
    source, full = reference
    out = tmp_path / "out.jsonl"
    for existing in (full, full[:100], b"not json at all\n", b"\n"):
        out.write_bytes(existing)
        judge = CountingJudge()
        with pytest.raises(OutputError, match="exists; use --resume"):
            judge_file(str(source), str(out), judge, OPTIONS, progress=False)
        assert out.read_bytes() == existing and judge.asked == 0
    judge_file(str(source), str(out), CountingJudge(), OPTIONS, progress=False, force=True,
               window=4)
    assert out.read_bytes() == full
    # A bad line in the middle is not a torn write: --resume refuses it, touching nothing.
    broken = full.replace(b"\n", b"\nnot json\n", 1)
    out.write_bytes(broken)
    with pytest.raises(OutputError, match="refusing to resume"):
        judge_file(str(source), str(out), CountingJudge(), OPTIONS, progress=False,
                   resume=True)
    assert out.read_bytes() == broken
