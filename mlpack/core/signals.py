"""SIGTERM takes the same way out as Ctrl-C, so every ``finally`` and context manager runs.

Python turns SIGINT into ``KeyboardInterrupt`` and unwinds: temporary folders are removed and
atomic writes leave nothing behind. SIGTERM (what CI runners, ``timeout`` and ``kill`` send) kills
the process on the spot by default, leaving temporary copies of models behind. One handler, installed
by the CLI, raises :class:`Terminated` (a ``KeyboardInterrupt``) instead.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM; handled like an interrupt, reported as 'terminated'."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def terminate_like_interrupt() -> None:
    """Install the SIGTERM handler (only the main thread may; elsewhere this does nothing)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
