"""Stop at once when the reader of stdout leaves (``judgecli judge … | head -1``).

A run writes its records a window at a time, so the first write after ``head`` exits may
come only after the whole input has been judged (and paid for). A daemon thread polls the
write end of the stdout pipe: when the reader closes it, the kernel reports POLLERR there,
and the thread interrupts the main thread the way Ctrl-C does, so the run stops where it is,
keeping what it wrote. The CLI then exits quietly with 141 (128 + SIGPIPE), as a shell tool
killed by SIGPIPE does.
"""

from __future__ import annotations

import _thread
import os
import select
import stat
import sys
import threading
import time

_reader_gone = threading.Event()
_watching = False  # one watcher a process


def reader_gone() -> bool:
    """Whether stdout's reader has left (the interrupt, if any, was ours): seen by the
    watcher, or found now."""
    if not _reader_gone.is_set() and _closed(_stdout_fd()):
        _reader_gone.set()
    return _reader_gone.is_set()


def _stdout_fd() -> int | None:
    try:
        # sys.stdout, not sys.__stdout__: under a test's capture there is nothing to watch.
        fd = sys.stdout.fileno()
        return fd if fd is not None and stat.S_ISFIFO(os.fstat(fd).st_mode) else None
    except (OSError, ValueError, AttributeError):
        return None


def _closed(fd: int | None, timeout_ms: int = 0) -> bool:
    if fd is None or not hasattr(select, "poll"):
        return False
    poller = select.poll()
    # POLLERR and POLLHUP are always reported; asking for no other event means a pipe that is
    # merely writable does not count.
    poller.register(fd, 0)
    return any(mask & (select.POLLERR | select.POLLHUP | select.POLLNVAL)
               for _, mask in poller.poll(timeout_ms))


def watch() -> None:
    """Start watching stdout when it is a pipe (and the platform can poll it)."""
    global _watching
    fd = _stdout_fd()
    if fd is None or not hasattr(select, "poll") or _watching:
        return
    _watching = True
    threading.Thread(target=_watch, args=(fd,), name="judgecli-stdout-watch",
                     daemon=True).start()


def _watch(fd: int) -> None:
    while not _closed(fd, 250):
        pass
    _reader_gone.set()
    # An interrupt that lands in a generator's clean-up is reported there and lost: say
    # nothing of those, and interrupt again until the main thread has stopped.
    default_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: None if issubclass(u.exc_type, KeyboardInterrupt) \
        else default_hook(u)
    while True:
        _thread.interrupt_main()
        time.sleep(1.0)


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
