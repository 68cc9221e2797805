"""``--batch``: the OpenAI judge through the Batch API (issue 17 items 2 and 3), through the
real CLI against a loopback Batch API (tests/batch_server.py), beside a synchronous run
against tests/fault_server.py on the same items.

Expected values are computed here, independently: prices from OpenAI's table as written
below (not judgecli's), usage from the server's own reply bodies, requests counted in the
files the server received. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from batch_server import BatchServer
from conftest import read_jsonl, run_cli, write_jsonl
from fault_server import FaultServer

import judgecli.backends.openai.batch as openai_batch

GPT4 = (30.00, 60.00)  # USD per million (prompt, completion) tokens, standard tier
COST = re.compile(r"cost \$(\d+\.\d{4})")


def pairs(n: int) -> list[dict[str, object]]:
    """Items tagged ITEM-<i>; the GOOD answer is A for even i, B for odd i."""
    return [{"id": i, "question": f"Which is better? ITEM-{i}",
             "answer_a": "GOOD answer." if i % 2 == 0 else "BAD answer.",
             "answer_b": "BAD answer." if i % 2 == 0 else "GOOD answer."} for i in range(n)]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("JUDGECLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("JUDGECLI_BATCH_POLL", "0.02")
    return tmp_path


def judge(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: Path,
          url: str, *args: str, model: str = "gpt-4") -> tuple[int, str]:
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(source), "--judge",
                           f"openai:{model}", "--base-url", url, "-q", *args)
    return code, err


def usage_cost(server: BatchServer, factor: float) -> float:
    """The cost of every reply the server wrote, from its own output files."""
    prompt = completion = 0
    for batch in server.batches.values():
        if batch.get("output_file_id"):
            for line in server.files[batch["output_file_id"]].decode().splitlines():
                usage = json.loads(line)["response"]["body"]["usage"]
                prompt += usage["prompt_tokens"]
                completion += usage["completion_tokens"]
    return factor * (prompt * GPT4[0] + completion * GPT4[1]) / 1e6


# -- what a batch run writes ---------------------------------------------------------------
@pytest.mark.parametrize(("template", "api"), [("mtbench-pair", "chat"),
                                               ("judgelm-pair", "completions")])
def test_records_equal_a_synchronous_run(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], template: str,
                                         api: str) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(7))
    with FaultServer() as sync_server:
        code, _ = judge(monkeypatch, capsys, source, sync_server.url, "-t", template,
                        "--api", api, "--no-cache", "-o", str(env / "sync.jsonl"))
    assert code == 0
    with BatchServer(polls=3) as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", template, "--api",
                          api, "--batch", "-o", str(env / "batch.jsonl"))
    assert code == 0, err
    sync, batch = read_jsonl(env / "sync.jsonl"), read_jsonl(env / "batch.jsonl")
    assert [r["id"] for r in batch] == list(range(7))  # input order
    assert batch == sync  # swap, parsing, combining and usage as synchronously
    assert [r["judgment"]["verdict"] for r in batch] == ["A", "B"] * 3 + ["A"]
    assert all(r["judgment"]["consistent"] for r in batch)  # both orders, mapped back
    # One file, one batch, each request once, as the Batch API wants its lines.
    sent = server.sent()
    url = "/v1/completions" if api == "completions" else "/v1/chat/completions"
    assert len(server.uploads) == len(server.batches) == 1 and len(sent) == 14
    assert len({line["custom_id"] for line in sent}) == 14
    assert all(line["method"] == "POST" and line["url"] == url for line in sent)
    assert all(b["endpoint"] == url for b in server.batches.values())
    assert not list(env.glob("batch.jsonl.batch-*"))  # the state is gone once collected


def test_a_second_run_is_answered_from_the_cache(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(3))
    with BatchServer() as server:
        assert judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                     "--batch", "-o", str(env / "a.jsonl"))[0] == 0
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(env / "b.jsonl"))
    assert code == 0
    assert len(server.uploads) == len(server.batches) == 1  # nothing sent again
    assert "0 request(s); 6 answered from the cache (free); cost $0.0000" in err
    assert read_jsonl(env / "a.jsonl") == read_jsonl(env / "b.jsonl")


def test_files_over_the_limits_are_split(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(9))  # 18 requests
    monkeypatch.setattr(openai_batch, "MAX_REQUESTS", 5)
    with BatchServer(max_requests=5) as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(env / "by_count.jsonl"))
    assert code == 0, err
    assert [len(server.files[f].splitlines()) for f in server.uploads] == [5, 5, 5, 3]
    assert len(server.batches) == 4 and "; 4 batch(es)" in err
    by_count = read_jsonl(env / "by_count.jsonl")
    assert [r["judgment"]["verdict"] for r in by_count] == ["A", "B"] * 4 + ["A"]

    line = len(server.files[server.uploads[0]].splitlines()[0]) + 1
    monkeypatch.setattr(openai_batch, "MAX_REQUESTS", 50_000)
    monkeypatch.setattr(openai_batch, "MAX_BYTES", 3 * line + 10)  # 3 lines a file
    with BatchServer(max_bytes=3 * line + 10) as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "--no-cache", "-o", str(env / "by_bytes.jsonl"))
    assert code == 0, err
    assert all(len(server.files[f]) <= 3 * line + 10 for f in server.uploads)
    assert len(server.uploads) == 6 and len(server.sent()) == 18
    assert read_jsonl(env / "by_bytes.jsonl") == by_count


# -- batches that end badly ---------------------------------------------------------------
def test_an_expired_batch_with_a_partial_output(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(7))
    out = env / "out.jsonl"
    # Items 0 and 6 are answered; the others each meet one way of not being answered.
    script = {"1": "late", "2": "lost", "3": "error", "4": "500", "5": "torn"}
    with BatchServer(outcomes=["expired"], script=script) as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(out))
        assert code == 0, err
        first = {r["id"]: r["judgment"] for r in read_jsonl(out)}
        assert list(first) == list(range(7))
        assert first[0]["verdict"] == "A" and first[6]["verdict"] == "A"
        errors = {i: first[i]["error"] for i in range(1, 6)}
        assert all(first[i]["verdict"] is None for i in range(1, 6))
        assert "batch_expired" in errors[1]
        assert "the batch expired (24h window) before this request ran" in errors[2]
        assert "server_error: the model tripped" in errors[3]
        assert "HTTP 500: overloaded" in errors[4]
        assert "expired (24h window)" in errors[5]  # its torn line counts as no line
        assert "10 request(s) unanswered by their batch" in err
        assert COST.search(err)

        # --retry-errors sends exactly the failed items' requests, in a new batch.
        server.script = {}
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(out), "--resume", "--retry-errors")
    assert code == 0, err
    assert len(server.batches) == 2
    again = [json.loads(line) for line in server.files[server.uploads[1]].splitlines()]
    tags = sorted(re.search(r"ITEM-(\d+)", json.dumps(line["body"]))[1] for line in again)
    assert tags == sorted(str(i) for i in range(1, 6) for _ in range(2))
    final = read_jsonl(out)
    assert [r["id"] for r in final] == list(range(7))
    assert [r["judgment"]["verdict"] for r in final] == ["A", "B"] * 3 + ["A"]


def test_a_failed_batch_fails_every_item(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(3))
    out = env / "out.jsonl"
    with BatchServer(outcomes=["failed"]) as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(out))
        assert code == 1, err  # every judgment failed
        assert all("the batch failed: the batch failed validation" in r["judgment"]["error"]
                   for r in read_jsonl(out))
        assert not list(env.glob("out.jsonl.batch-*"))
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(out), "--resume", "--retry-errors")
    assert code == 0, err
    assert len(server.batches) == 2  # the failed batch is not answered again
    assert [r["judgment"]["verdict"] for r in read_jsonl(out)] == ["A", "B", "A"]


# -- interrupted while polling ------------------------------------------------------------
def _cli(tmp: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-test", JUDGECLI_CACHE_DIR=str(tmp / "cache"),
               JUDGECLI_BATCH_POLL="0.02")
    return subprocess.Popen([sys.executable, "-m", "judgecli", "judge", "in.jsonl", "--judge",
                             "openai:gpt-4", "-t", "mtbench-pair", "--base-url", url,
                             "--batch", "-q", *args], cwd=tmp, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "killed before writing the id"])
def test_a_run_killed_while_polling_collects_its_batch_later(tmp_path: Path,
                                                              how: str) -> None:
    write_jsonl(tmp_path / "in.jsonl", pairs(4))
    with BatchServer(hold=True) as server:
        run = _cli(tmp_path, server.url, "-o", "out.jsonl")
        deadline = time.monotonic() + 60
        while sum(server.polled.values()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.polled, run.communicate(timeout=5)
        run.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGKILL)
        _, err = run.communicate(timeout=120)  # generous: a loaded machine
        assert run.returncode == (130 if how == "SIGINT" else -9), err
        state = list(tmp_path.glob("out.jsonl.batch-*.json"))
        assert len(state) == 1 and list(server.batches)[0] in state[0].read_text()
        if how == "SIGINT":
            assert "the batch(es) go on, their ids kept in" in err
        if how == "killed before writing the id":  # the batch was created, not written down
            data = json.loads(state[0].read_text())
            for part in data["parts"]:
                del part["batch_id"], part["status"]
            state[0].write_text(json.dumps(data))
        assert not read_jsonl(tmp_path / "out.jsonl")  # nothing judged yet
        server.release.set()
        # The same command again (the output is still empty), or with --resume.
        again = _cli(tmp_path, server.url, "-o", "out.jsonl",
                     *(["--resume"] if how == "SIGINT" else []))
        _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert len(server.batches) == len(server.uploads) == 1  # polled, not paid again
    assert [r["judgment"]["verdict"] for r in read_jsonl(tmp_path / "out.jsonl")] == \
        ["A", "B", "A", "B"]
    assert not list(tmp_path.glob("out.jsonl.batch-*"))


# -- counted honestly ---------------------------------------------------------------------
def test_the_cost_line_is_half_the_synchronous_one(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(40))
    with FaultServer() as sync_server:
        code, sync_err = judge(monkeypatch, capsys, source, sync_server.url, "-t",
                               "mtbench-pair", "--no-cache", "-o", str(env / "sync.jsonl"))
    with BatchServer() as server:
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "-o", str(env / "batch.jsonl"))
        expected = usage_cost(server, 0.5)
    assert code == 0, err
    batch_cost = float(COST.findall(err)[-1])
    sync_cost = float(COST.findall(sync_err)[-1])
    assert expected > 0.01
    assert batch_cost == pytest.approx(expected, abs=5e-5)
    assert sync_cost == pytest.approx(2 * expected, abs=5e-5)
    assert "(Batch API price)" in err and "Batch API" not in sync_err
    assert "80 request(s)" in err and "1 batch(es)" in err


def _estimate(err: str) -> tuple[float, float, float | None]:
    """(prompts, completions, worst case) of a dry run's estimate line."""
    found = re.search(r"cost ~\$(\d+\.\d+) for the prompts \+ at most \$(\d+\.\d+)", err)
    worst = re.search(r"worst case, \$(\d+\.\d+)", err)
    assert found, err
    return float(found[1]), float(found[2]), float(worst[1]) if worst else None


def test_dry_run_max_cost_and_batch_agree(env: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(6))
    with BatchServer() as server:
        _, sync_err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                            "--dry-run")
        _, shown, err = run_cli(monkeypatch, capsys, "judge", str(source), "--judge",
                                "openai:gpt-4", "-t", "mtbench-pair", "--dry-run", "--batch")
        sync, batch = _estimate(sync_err), _estimate(err)
        assert batch[0] == pytest.approx(sync[0] / 2, abs=1e-4)
        assert batch[1] == pytest.approx(sync[1] / 2, abs=1e-4)
        # The worst case --max-cost is held to, from the prompts shown: a token per byte of
        # the messages' JSON and 8 per message and reply, --max-new-tokens (512) completion
        # tokens, at half of GPT-4's price.
        worst = 0.0
        for row in map(json.loads, shown.splitlines()):
            messages = row.get("messages") or [{"role": "user", "content": row["prompt"]}]
            size = len(json.dumps(messages, ensure_ascii=False).encode())
            worst += ((size + 8 * (len(messages) + 1)) * GPT4[0] + 512 * GPT4[1]) / 2e6
        assert batch[2] == pytest.approx(worst, abs=5e-5)

        # Just below the worst case: refused, nothing uploaded; just above: judged.
        out = env / "out.jsonl"
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "--max-cost", f"{batch[2] * 0.99:.6f}", "-o", str(out))
        assert code == 2, err
        assert "error: not submitted: a batch of 12 request(s) could cost up to " \
               f"${batch[2]:.4f}" in err
        assert not server.uploads and not server.batches and not read_jsonl(out)
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "--max-cost", f"{batch[2] * 1.01:.6f}", "-o", str(out),
                          "--resume")
    assert code == 0, err
    assert len(server.batches) == 1 and len(read_jsonl(out)) == 6


def test_batch_is_refused_without_an_api_judge(env: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(1))
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo-judge"
    code, _, err = run_cli(monkeypatch, capsys, "judge", str(source), "--judge", str(demo),
                           "--batch", "-q")
    assert code == 2
    assert err.strip() == "judgecli: error: --batch: only for API judges (--judge " \
                          "openai:MODEL)"


def test_compare_judges_through_the_batch_api(env: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    with BatchServer() as server:
        code, _, err = run_cli(monkeypatch, capsys, "compare", str(examples / "model_a.jsonl"),
                               str(examples / "model_b.jsonl"), "--judge", "openai:gpt-4",
                               "-t", "mtbench-pair", "--base-url", server.url, "--batch", "-q")
    assert code == 0, err
    assert len(server.batches) == 1 and len(server.sent()) > 0
    assert "(Batch API price); 1 batch(es)" in err
    assert list((env / "cache" / "batches").glob("*.json")) == []  # stdout's state: gone


def test_a_server_lost_while_polling_is_one_line_and_keeps_the_state(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(env / "in.jsonl", pairs(2))
    with BatchServer(hold=True) as server:
        def drop_when_polled() -> None:
            deadline = time.monotonic() + 30
            while not server.polled and time.monotonic() < deadline:
                time.sleep(0.01)
            server.down.set()

        dropper = threading.Thread(target=drop_when_polled)
        dropper.start()
        code, err = judge(monkeypatch, capsys, source, server.url, "-t", "mtbench-pair",
                          "--batch", "--retries", "0", "-o", str(env / "out.jsonl"))
        dropper.join()
    assert code == 2, err
    state = list(env.glob("out.jsonl.batch-*.json"))
    assert len(state) == 1
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(
        r"judgecli: error: could not reach the Batch API to poll a batch \(\w+\); the batch "
        rf"ids are kept in {re.escape(str(state[0]))} \(the same command goes on with them; "
        r"delete it to submit them again\)", last), last
