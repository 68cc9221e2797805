"""The ``judgecli`` command: a thin Typer layer over the library.

``commands`` declares the commands, ``options`` the judging options they share (once),
``report`` and ``templates`` the commands that read files, ``defaults`` the template chosen
from the first item, ``stdout_watch`` the closed-pipe stop.
"""

from __future__ import annotations

from .commands import app, main

__all__ = ["app", "main"]
