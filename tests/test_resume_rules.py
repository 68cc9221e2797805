"""What --resume may append to, where its records go, and what --skip-invalid keeps
(issue 16 items 4, 10 and 22), through the real CLI against a loopback OpenAI server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import read_jsonl, write_jsonl
from fault_server import FaultServer

KEY = "sk-test-resume"


def pairs(*tags: str) -> list[dict[str, str]]:
    return [{"id": tag, "question": f"Which is better? ITEM-{tag}", "answer_a": "GOOD answer.",
             "answer_b": "BAD answer."} for tag in tags]


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY=KEY, JUDGECLI_CACHE_DIR=str(tmp / "cache"))
    return subprocess.run([sys.executable, "-m", "judgecli", "judge", *args], cwd=tmp,
                          capture_output=True, text=True, env=env, timeout=120)


def test_resume_with_other_settings_is_refused_naming_the_difference(tmp_path: Path) -> None:
    tags = ["a", "b", "c", "d"]
    write_jsonl(tmp_path / "in.jsonl", pairs(*tags))
    write_jsonl(tmp_path / "half.jsonl", pairs(*tags[:2]))
    with FaultServer() as server:
        base = ["--base-url", server.url, "-q", "-o", "out.jsonl"]
        gpt4o = ["--judge", "openai:gpt-4o"]
        first = cli(tmp_path, "half.jsonl", "-t", "mtbench-pair", *gpt4o, *base)
        assert first.returncode == 0, first.stderr
        before, sent = (tmp_path / "out.jsonl").read_bytes(), server.total
        cases = {
            "template": ([*gpt4o, "-t", "judgelm-pair"], "template mtbench-pair",
                         "template judgelm-pair"),
            "swap": ([*gpt4o, "-t", "mtbench-pair", "--no-swap"], "was judged with swap",
                     "this run: --no-swap"),
            "combine": ([*gpt4o, "-t", "mtbench-pair", "--combine", "average"], "combine strict",
                        "combine average"),
            "judge": (["-t", "mtbench-pair", "--judge", "openai:gpt-4o-mini"],
                      "judge openai:gpt-4o;", "judge openai:gpt-4o-mini"),
        }
        for name, (more, theirs, ours) in cases.items():
            refused = cli(tmp_path, "in.jsonl", *base, *more, "--resume")
            assert refused.returncode == 2, (name, refused.stderr)
            line = refused.stderr.strip()
            assert len(line.splitlines()) == 1 and "Traceback" not in line, line
            assert "out.jsonl" in line and theirs in line and ours in line, (name, line)
            # Refused before anything was asked or written.
            assert server.total == sent and (tmp_path / "out.jsonl").read_bytes() == before
        same = cli(tmp_path, "in.jsonl", "-t", "mtbench-pair", *gpt4o, *base, "--resume")
        assert same.returncode == 0, same.stderr
        assert server.total == sent + 2 * 2  # the two new items, both orders
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == tags


def test_retry_errors_keeps_input_order(tmp_path: Path) -> None:
    tags = ["ok1", "bad1", "ok2", "bad2", "ok3"]
    write_jsonl(tmp_path / "in.jsonl", pairs(*tags))
    common = ["in.jsonl", "--judge", "openai:gpt-4o", "-t", "mtbench-pair", "--retries", "0",
              "--no-cache", "-q", "-o", "out.jsonl"]
    with FaultServer(script={"bad1": ["500"], "bad2": ["500"]}) as server:
        first = cli(tmp_path, *common, "--base-url", server.url)
        assert first.returncode == 0, first.stderr
        before = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
        retried = cli(tmp_path, *common, "--base-url", server.url, "--resume",
                      "--retry-errors")
        assert retried.returncode == 0, retried.stderr
    after = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in after] == tags  # not ok1, ok2, ok3, bad1, bad2
    assert all(r["judgment"]["error"] is None for r in after)
    assert all(r == before[r["id"]] for r in after if r["id"].startswith("ok"))


def test_rejects_path_is_printed_and_an_earlier_list_is_not_overwritten(
        tmp_path: Path) -> None:
    good = [json.dumps(r) for r in pairs("a", "b")]
    (tmp_path / "in.jsonl").write_text("\n".join([good[0], "not json", good[1]]) + "\n")
    rejects = tmp_path / "in.rejected.jsonl"
    with FaultServer() as server:
        base = ["in.jsonl", "--judge", "openai:gpt-4o", "--base-url", server.url,
                "-t", "mtbench-pair", "--skip-invalid"]
        first = cli(tmp_path, *base, "-o", "one.jsonl")
        assert first.returncode == 0, first.stderr
        assert f"1 bad line(s) written to {rejects.name}" in first.stderr
        kept, sent = rejects.read_bytes(), server.total
        assert json.loads(kept)["line"] == 2
        # Another run over the same input would replace that list: refused, one line.
        again = cli(tmp_path, *base, "-o", "two.jsonl")
        assert again.returncode == 2 and rejects.name in again.stderr
        assert "--force" in again.stderr and "Traceback" not in again.stderr
        assert rejects.read_bytes() == kept and server.total == sent
        assert not (tmp_path / "two.jsonl").exists()
        forced = cli(tmp_path, *base, "-o", "two.jsonl", "--force")
        assert forced.returncode == 0, forced.stderr
        assert rejects.read_bytes() == kept  # the same bad line, written afresh
