"""Data parallelism for vLLM judges (``--data-parallel N``): N copies of the judge, each an
engine in a process of its own on its own GPUs, each judging a share of every batch.

vLLM's ``LLM(data_parallel_size=N)`` is refused in one process (vLLM 0.32.0,
``vllm/entrypoints/llm.py``: "not supported for single-process usage", pointing at its
multi-process data-parallel example). A judge's model is dense, and the copies need not
talk to each other: each process sees only its GPUs (``CUDA_VISIBLE_DEVICES``: replica k
gets GPUs k*T .. k*T+T-1, T = --tensor-parallel) and runs an ordinary ``VLLMJudge``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import JudgeLoadError
from ..base import Completion, Judge, Request


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (none on a CPU)."""
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        return [d.strip() for d in named.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() \
        else []


def _serve(conn: Any, factory: Callable[..., Judge], model: str, options: dict[str, Any],
           gpus: str | None) -> None:
    """One replica: load the judge (``factory``: the judge class, VLLMJudge), then judge each
    batch received until None comes."""
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        judge = factory(model, **options)
    except Exception as exc:  # noqa: BLE001 - told to the parent, which raises it
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", None))
    while (requests := conn.recv()) is not None:
        try:
            conn.send(("done", judge.complete(requests)))
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    judge.close()


class Replicas:
    """``count`` judges in processes of their own; :meth:`complete` splits a batch."""

    def __init__(self, factory: Callable[..., Judge], model: str, count: int,
                 options: dict[str, Any]) -> None:
        tensor = int(options.get("tensor_parallel") or 1)
        gpus = visible_gpus()
        if gpus and len(gpus) < count * tensor:
            raise JudgeLoadError(f"--data-parallel {count} x --tensor-parallel {tensor} needs "
                                 f"{count * tensor} GPUs; {len(gpus)} are visible")
        context = multiprocessing.get_context("spawn")  # a fresh CUDA context each
        self.links, self.processes = [], []
        for k in range(count):
            parent, child = context.Pipe()
            share = ",".join(gpus[k * tensor:(k + 1) * tensor]) if gpus else None
            process = context.Process(target=_serve, args=(child, factory, model, options, share),
                                      daemon=True)
            process.start()
            self.links.append(parent)
            self.processes.append(process)
        for link in self.links:  # the engines start side by side
            kind, message = self._receive(link)
            if kind == "error":
                self.close()
                raise JudgeLoadError(message)

    def _receive(self, link: Any) -> tuple[str, Any]:
        try:
            return link.recv()
        except EOFError:
            return "error", "a vLLM replica's process ended (see the lines above)"

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        """Contiguous shares, one a replica, judged at once and put back in order."""
        count = len(self.links)
        size, extra = divmod(len(requests), count)
        shares, start = [], 0
        for k in range(count):
            end = start + size + (1 if k < extra else 0)
            shares.append(list(requests[start:end]))
            start = end
        busy = [(link, share) for link, share in zip(self.links, shares) if share]
        for link, share in busy:
            link.send(share)
        out: list[Completion] = []
        failure = None
        for link, _ in busy:
            kind, result = self._receive(link)
            if kind == "error":
                failure = failure or result
            else:
                out.extend(result)
        if failure is not None:
            raise JudgeLoadError(f"a vLLM replica failed: {failure}")
        return out

    def close(self) -> None:
        for link in self.links:
            try:
                link.send(None)
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
        self.links, self.processes = [], []
