"""``--ray``: one judge per Ray actor, over many GPUs and machines.

:class:`RayJudge` is a :class:`~judgecli.backends.base.Judge` holding a pool of Ray actors,
each of which loads the judge itself with ``load_judge(spec, **options)`` (a transformers
judge on the actor's GPU, or any other local backend: a vLLM replica per actor). The driver
hands each actor whole windows of requests (``start``), exactly as one process hands them
to its judge, so every window is batched as in one process; the completions come back to
the driver (``finish``), which alone writes the records, in input order. A task Ray runs
again after its worker died (``max_task_retries``) therefore reaches the file once.

Ray does the rest: placement (one GPU an actor where the cluster has GPUs, else one CPU),
restarting a dead actor (``max_restarts``), retrying its task, and handing the next window
to whichever actor is free (``ray.util.ActorPool``). No scheduler of ours.

``address``: ``auto`` is ``ray.init()``'s own choice (``$RAY_ADDRESS``, else the cluster
``ray start`` started on this machine, else a new local cluster for this run alone, stopped
with it); anything else is passed to ``ray.init(address=...)``, e.g. ``10.0.0.1:6379`` or
``ray://head:10001``. Tested with ray 2.60.0 (``ray.util.actor_pool``, ``ray.init``,
``ray.kill`` as of that release).

SIGTERM: ``ray.init`` makes it ``sys.exit(1)`` in the driver, which skips the way an
interrupted run ends. While a RayJudge is open it is a Ctrl-C instead (a KeyboardInterrupt
whose ``signal`` is ``"SIGTERM"``): the records written stay, ``close`` kills the actors
and stops a cluster this run started.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import JudgecliError, JudgeLoadError
from .base import Completion, Judge, Request

# An actor whose process dies is restarted this many times, and its window tried again;
# beyond that the run stops with an error (a judge that cannot load, or runs out of memory
# on every try, should not loop forever).
RESTARTS = 3


class Replica:
    """What runs in each actor: one judge, loaded there. A load error is kept and told by
    ``describe`` (one line in the driver, rather than Ray's report of a dead actor)."""

    def __init__(self, spec: str, loader: Callable[..., Judge] | None,
                 options: dict[str, Any]) -> None:
        if loader is None:
            from . import load_judge as loader
        self.judge: Judge | None = None
        self.error: JudgecliError | None = None
        try:
            self.judge = loader(spec, **options)
        except JudgecliError as exc:
            self.error = exc

    def describe(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        assert self.judge is not None
        return {"name": self.judge.name, "score": self.judge.supports_score_mode,
                "batch": self.judge.preferred_batch(), "pid": os.getpid()}

    def complete(self, tag: int, requests: Sequence[Request]) -> tuple[int, list[Completion]]:
        assert self.judge is not None
        return tag, self.judge.complete(requests)

    def pid(self) -> int:
        return os.getpid()


class RayJudge(Judge):
    """A pool of Ray actors, each holding the judge ``spec`` names (see the module)."""

    overlaps = True  # the runner hands over windows ahead, one for each actor and more

    def __init__(self, spec: str, *, address: str = "auto", actors: int | None = None,
                 loader: Callable[..., Judge] | None = None, **options: Any) -> None:
        try:
            import ray
        except ImportError:
            raise JudgeLoadError("--ray needs the 'ray' package; pip install "
                                 "'judgecli[ray]'") from None
        from ray.util import ActorPool

        self._ray = ray
        self._actors: list[Any] = []
        self._owns_connection = not ray.is_initialized()
        main = threading.current_thread() is threading.main_thread()
        # SIGTERM's handler before ray.init replaced it, given back by close()
        self._sigterm: Any = (signal.getsignal(signal.SIGTERM) or signal.SIG_DFL) if main \
            else None
        try:
            if self._owns_connection:
                self._connect(address)
            if main:
                signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
            self._actors = self._start_actors(spec, actors, loader, options)
        except BaseException:
            self.close()
            raise
        self._pool = ActorPool(self._actors)
        self._tag = 0
        self._done: dict[int, list[Completion]] = {}

    # -- the cluster -------------------------------------------------------------------------
    def _connect(self, address: str) -> None:
        import logging

        try:
            # log_to_driver off: an actor's prints would land in the driver's stdout, which
            # may be the JSONL output. Actors' logs stay in Ray's session logs.
            self._ray.init(address=None if address == "auto" else address,
                           include_dashboard=False, log_to_driver=False,
                           logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else \
                type(exc).__name__
            raise JudgeLoadError(f"--ray {address}: cannot connect to a Ray cluster ({first})"
                                 ) from None

    def _start_actors(self, spec: str, count: int | None, loader: Callable[..., Judge] | None,
                      options: dict[str, Any]) -> list[Any]:
        ray = self._ray
        total, free = ray.cluster_resources(), ray.available_resources()
        gpus, cpus = int(total.get("GPU", 0)), int(total.get("CPU", 0))
        # One GPU an actor where the cluster has GPUs, else one CPU (and one thread: Ray
        # sets OMP_NUM_THREADS to the actor's CPUs). Left out, as many actors as are free
        # (another judge's pool may hold some), else as many as the cluster has.
        need = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        slots = gpus or cpus
        count = count or int(free.get("GPU" if gpus else "CPU", 0)) or slots
        if count > slots:
            kind = f"{gpus} GPU(s)" if gpus else f"{cpus} CPU(s) and no GPU"
            raise JudgecliError(f"--ray-actors {count}: the Ray cluster has {kind}, and each "
                                "actor takes one")
        remote = ray.remote(Replica).options(
            max_restarts=RESTARTS, max_task_retries=RESTARTS, scheduling_strategy="SPREAD",
            **need)
        actors = [remote.remote(spec, loader, options) for _ in range(count)]
        self._actors = actors  # closed by close() if what follows fails
        described = ray.get([actor.describe.remote() for actor in actors])
        for found in described:
            if "error" in found:
                raise found["error"]
        first = described[0]
        self.name = first["name"]
        self.supports_score_mode = first["score"]
        self._batch = first["batch"]
        self.pids = [found["pid"] for found in described]
        return actors

    # -- the Judge interface -----------------------------------------------------------------
    @property
    def in_flight_windows(self) -> int:  # type: ignore[override]
        """One window running on each actor and one waiting behind it."""
        return 2 * max(1, len(self._actors))

    @property
    def truncate(self) -> bool:  # type: ignore[override]
        return False

    @truncate.setter
    def truncate(self, value: bool) -> None:
        if value:
            raise JudgecliError("--truncate does not work with --ray yet (the driver would "
                                "need the judge's tokenizer); cut long answers beforehand")

    def preferred_batch(self) -> int:
        return self._batch

    def start(self, requests: Sequence[Request]) -> int:
        self._tag += 1
        self._pool.submit(lambda actor, work: actor.complete.remote(*work),
                          (self._tag, list(requests)))
        return self._tag

    def finish(self, ticket: Any) -> list[Completion]:
        """The window's completions; those of other windows that end first are kept for
        their own ``finish`` (their actors go on to the next window at once)."""
        from ray.exceptions import RayActorError

        while ticket not in self._done:
            try:
                tag, completions = self._pool.get_next_unordered()
            except RayActorError as exc:
                raise JudgecliError(f"a Ray actor of judge {self.name} died and was "
                                    f"restarted {RESTARTS} times; stopping ({_first(exc)})"
                                    ) from None
            self._done[tag] = completions
        return self._done.pop(ticket)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        return self.finish(self.start(requests))

    def close(self) -> None:
        """Kill the actors, disconnect (stopping a local cluster this run started) and give
        SIGTERM back its handler."""
        ray = self._ray
        for actor in self._actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
        self._actors = []
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None


def _sigterm_as_interrupt(signum: int, frame: Any) -> None:
    interrupt = KeyboardInterrupt()
    interrupt.signal = "SIGTERM"  # type: ignore[attr-defined]
    raise interrupt


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
