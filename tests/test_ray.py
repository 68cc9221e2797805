"""``--ray`` (issue 23 items 2-3): judging through a pool of Ray actors on a local cluster of
three one-CPU nodes (``ray.cluster_utils.Cluster``, started once for these tests).

Checked against a one-process run of the same tiny transformers judge (one thread, as each
one-CPU actor has): the bytes written are the same; a worker killed by PID in the middle of
a window (known from the judge's own log line, not from a clock) loses and duplicates
nothing although Ray ran that window twice; SIGTERM, and Ctrl-C on a real `judgecli judge
--ray` process, stop the run with the records written a resumable prefix of the input and
none of the processes the run started left alive (checked by PID)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl

ray = pytest.importorskip("ray", reason="the ray extra (pip install -e '.[ray]')")

from ray_gate import calls, gated_loader  # noqa: E402

from judgecli.backends import load_judge  # noqa: E402
from judgecli.backends.raypool import RayJudge  # noqa: E402
from judgecli.judging.runner import JudgeOptions, judge_file  # noqa: E402
from judgecli.templates import load_template  # noqa: E402

# Every test here uses the one cluster: pytest -n keeps them on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("ray")

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = JudgeOptions(template=load_template("judgelm-pair"))  # score mode: probabilities
WINDOW = 8  # --batch-size 2: windows of 4 batches of 2 prompts (runner.judge_file)
HANG = 300.0  # seconds before a wait for an event is taken for a hang (never a speed check)


def items(n: int) -> list[dict[str, object]]:
    return [{"id": f"x{i}", "question": f"ITEM-{i} Is {i} even?",
             "answer_a": "yes" if i % 2 == 0 else "no", "answer_b": "maybe " * (i % 5)}
            for i in range(n)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """Three nodes of one CPU. Their workers import judgecli from this checkout and the
    gated judge from tests/, and use one thread each."""
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "OMP_NUM_THREADS")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "tests"), *filter(None, [saved["PYTHONPATH"]])])
    os.environ["OMP_NUM_THREADS"] = "1"
    nodes = Cluster(initialize_head=True,
                    head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        for _ in range(2):
            nodes.add_node(num_cpus=1)
        nodes.wait_for_nodes()
        yield nodes
    finally:
        nodes.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("ray") / "in.jsonl", items(80))


@pytest.fixture(scope="module")
def single(source: Path, tiny_judge: Path) -> bytes:
    """What one process writes (one thread, as each actor)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = source.with_name("single.jsonl")
    try:
        with load_judge(str(tiny_judge), batch_size=2) as judge:
            judge_file(str(source), str(out), judge, OPTIONS, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out.read_bytes()


def resume_in_one_process(source: Path, out: Path, tiny_judge: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with load_judge(str(tiny_judge), batch_size=2) as judge:
            judge_file(str(source), str(out), judge, OPTIONS, progress=False, resume=True)
    finally:
        torch.set_num_threads(threads)


def wait_for(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG
    while not check():
        assert time.monotonic() < deadline, f"no sign of {what}"
        time.sleep(0.02)


def started(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/PID/stat), None if it is gone
    or a zombie: a PID with its start time names one process, even if the PID is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def gone(processes: dict[int, str | None]) -> bool:
    return all(started(pid) != start for pid, start in processes.items())


def descendants(root: int) -> dict[int, str]:
    """Every live process under ``root``, with its command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        todo += children.get(pid, [])
    return found


# -- in process ---------------------------------------------------------------------------------
def test_three_nodes_write_byte_for_byte_what_one_process_writes(
        cluster, source: Path, single: bytes, tmp_path: Path, tiny_judge: Path) -> None:
    out = tmp_path / "ray.jsonl"
    judge = load_judge(str(tiny_judge), batch_size=2, ray=cluster.address, ray_actors=3)
    try:
        assert isinstance(judge, RayJudge) and len(set(judge.pids)) == 3  # an actor a node
        judge_file(str(source), str(out), judge, OPTIONS, progress=False)
    finally:
        judge.close()
    assert out.read_bytes() == single
    assert not ray.is_initialized()  # the connection it opened, it closed


def test_a_worker_killed_mid_window_loses_and_duplicates_nothing(
        cluster, source: Path, single: bytes, tmp_path: Path, tiny_judge: Path) -> None:
    log, go, out = tmp_path / "calls.jsonl", tmp_path / "go", tmp_path / "ray.jsonl"
    hold = 37  # an item of the fifth window: the actor judging it waits until it is killed
    judge = RayJudge(str(tiny_judge), address=cluster.address, actors=3, batch_size=2,
                     loader=partial(gated_loader, log=str(log), go=str(go), hold=hold))
    killed: list[int] = []

    def kill_the_holder() -> None:
        wait_for(lambda: [c for c in calls(str(log)) if hold in c["items"]], "the window held")
        pid = next(c["pid"] for c in calls(str(log)) if hold in c["items"])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        go.touch()

    killer = threading.Thread(target=kill_the_holder, daemon=True)
    killer.start()
    try:
        judge_file(str(source), str(out), judge, OPTIONS, progress=False)
    finally:
        go.touch()
        judge.close()
    killer.join()
    held = [c for c in calls(str(log)) if hold in c["items"]]
    # Ray ran the window twice: in the killed worker, then in the actor it restarted ...
    assert [c["pid"] for c in held][:1] == killed and len(held) == 2
    assert held[1]["pid"] != killed[0]
    # ... and the driver wrote it once: every record, once, in input order, byte for byte.
    assert [r["id"] for r in read_jsonl(out)] == [f"x{i}" for i in range(80)]
    assert out.read_bytes() == single


def test_sigterm_mid_window_stops_the_pool_and_leaves_a_resumable_prefix(
        cluster, source: Path, single: bytes, tmp_path: Path, tiny_judge: Path) -> None:
    log, go, out = tmp_path / "calls.jsonl", tmp_path / "go", tmp_path / "ray.jsonl"
    hold = 37  # never let go: the driver waits for that window when SIGTERM comes
    handler = signal.getsignal(signal.SIGTERM)  # given back by close()
    judge = RayJudge(str(tiny_judge), address=cluster.address, actors=3, batch_size=2,
                     loader=partial(gated_loader, log=str(log), go=str(go), hold=hold))
    actors = {pid: started(pid) for pid in judge.pids}

    def terminate_when_held() -> None:
        wait_for(lambda: [c for c in calls(str(log)) if hold in c["items"]], "the window held")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_when_held, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            judge_file(str(source), str(out), judge, OPTIONS, progress=False)
    finally:
        judge.close()
    assert getattr(stop.value, "signal", None) == "SIGTERM"
    written = [r["id"] for r in read_jsonl(out)]
    assert written == [f"x{i}" for i in range(len(written))]  # a prefix of the input
    assert len(written) <= hold - hold % WINDOW  # nothing from the held window on
    assert stop.value.written == len(written)  # type: ignore[attr-defined]
    wait_for(lambda: gone(actors), "the actors' end")  # killed by close()
    assert signal.getsignal(signal.SIGTERM) is handler and not ray.is_initialized()
    resume_in_one_process(source, out, tiny_judge)
    assert out.read_bytes() == single


def test_what_cannot_be_done_is_one_line_and_leaves_nothing_running(
        cluster, tmp_path: Path, monkeypatch, capsys) -> None:
    from conftest import run_cli

    from judgecli.errors import JudgecliError, JudgeLoadError

    with pytest.raises(JudgecliError, match=r"--ray-actors 4: the Ray cluster has 3 CPU\(s\)"):
        load_judge(str(tmp_path), ray=cluster.address, ray_actors=4)
    assert not ray.is_initialized()
    # A judge the actor cannot load: the actor's own error, not Ray's report of a dead actor.
    with pytest.raises(JudgeLoadError, match="no such judge folder .*no-such-judge"):
        load_judge(str(tmp_path / "no-such-judge"), ray=cluster.address, ray_actors=1)
    assert not ray.is_initialized()
    source = write_jsonl(tmp_path / "in.jsonl", items(2))
    for extra, said in ((["--judge", "openai:gpt-4o", "--ray", cluster.address],
                         "--ray: for local judges"),
                        (["--judge", str(tmp_path), "--ray-actors", "2"],
                         "--ray-actors works with --ray")):
        code, _, err = run_cli(monkeypatch, capsys, "judge", str(source), *extra)
        assert code == 2 and err.strip().splitlines()[-1].startswith("judgecli: error: " + said)


# -- a real `judgecli judge --ray` process ------------------------------------------------------
def _cli(tmp_path: Path, tiny_judge: Path, address: str, actors: int,
         env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`judgecli judge - --ray ADDRESS`, reading its items from a pipe the test holds open:
    once it has judged what it was given it waits for more, mid-run for certain."""
    return subprocess.Popen(
        [sys.executable, "-m", "judgecli", "judge", "-", "--judge", str(tiny_judge),
         "--batch-size", "2", "--ray", address, "--ray-actors", str(actors),
         "-o", str(tmp_path / "out.jsonl"), "-q"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def _feed_and_wait(proc: subprocess.Popen[bytes], out: Path, n: int, actors: int) -> int:
    """Give it items 0..n-1, keep the pipe open, and wait until the windows it must finish
    before it reads more are written (all but the ``in_flight_windows`` begun last, two an
    actor, and the one it is still reading); returns how many that is."""
    assert proc.stdin is not None
    proc.stdin.write(b"".join(
        (line + "\n").encode() for line in map(_dumps, items(n))))
    proc.stdin.flush()
    expect = (n // WINDOW - 2 * actors) * WINDOW

    def written() -> bool:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        return out.exists() and out.read_bytes().count(b"\n") >= expect

    wait_for(written, f"{expect} records written")
    return expect


def _dumps(row: dict[str, object]) -> str:
    import json

    return json.dumps(row)


def test_ctrl_c_on_judgecli_judge_ray_ends_cleanly(
        cluster, source: Path, single: bytes, tmp_path: Path, tiny_judge: Path) -> None:
    out = tmp_path / "out.jsonl"
    before = {pid for pid, cmd in descendants(os.getpid()).items() if "Replica" in cmd}
    proc = _cli(tmp_path, tiny_judge, cluster.address, 3)
    try:
        expect = _feed_and_wait(proc, out, 80, 3)
        # The run's actors: worker processes of the cluster's nodes (children of this
        # process's raylets), named after the actor class.
        actors = {pid: started(pid) for pid, cmd in descendants(os.getpid()).items()
                  if "Replica" in cmd and pid not in before}
        assert len(actors) == 3
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group
        _, err = proc.communicate(timeout=HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert f"interrupted; {expect} written; finish with --resume" in err.decode()
    assert [r["id"] for r in read_jsonl(out)] == [f"x{i}" for i in range(expect)]
    wait_for(lambda: gone(actors), "the run's actors' end")
    resume_in_one_process(source, out, tiny_judge)
    assert out.read_bytes() == single


def test_sigterm_on_judgecli_judge_ray_auto_stops_the_cluster_it_started(
        cluster, source: Path, single: bytes, tmp_path: Path, tiny_judge: Path) -> None:
    out = tmp_path / "out.jsonl"
    # Another Ray temp folder, so that `auto` finds no cluster (not this module's) and
    # starts one of its own; short, for Ray's socket paths.
    own = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    proc = _cli(tmp_path, tiny_judge, "auto", 2, env={"RAY_TMPDIR": own})
    try:
        expect = _feed_and_wait(proc, out, 80, 2)
        started_by_run = {pid: started(pid) for pid in descendants(proc.pid)}
        names = " ".join(descendants(proc.pid).values())
        assert "raylet" in names and "gcs_server" in names  # a cluster of its own
        proc.terminate()  # SIGTERM to the driver alone, as `kill PID` sends it
        _, err = proc.communicate(timeout=HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(own, ignore_errors=True)
    assert proc.returncode == 143, err.decode()[-2000:]
    assert f"terminated; {expect} written; finish with --resume" in err.decode()
    assert [r["id"] for r in read_jsonl(out)] == [f"x{i}" for i in range(expect)]
    wait_for(lambda: gone(started_by_run), "the end of every process the run started")
    resume_in_one_process(source, out, tiny_judge)
    assert out.read_bytes() == single
