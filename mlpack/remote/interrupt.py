"""Ctrl-C during device jobs: every job stops, whatever the SSH library was doing.

``asyncio.run`` turns the first Ctrl-C into one cancellation of the main task. A library in the
middle of a transfer can swallow that cancellation, and the job then goes on until its timeout
(a CI run saw ``bench --target`` keep measuring for its whole 600 s after Ctrl-C). Here the first
Ctrl-C also aborts every open SSH connection: no job can go on without one, and the device's
agent removes its folder when its connection drops. A second Ctrl-C raises at once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# The SSH connections of the jobs running now: what a Ctrl-C aborts.
OPEN_CONNECTIONS: set[Any] = set()


def run_interruptibly(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, where Ctrl-C aborts the open connections and raises KeyboardInterrupt."""
    interrupted = False

    async def guarded() -> T:
        task = asyncio.current_task()

        def on_interrupt() -> None:
            nonlocal interrupted
            if interrupted:
                raise KeyboardInterrupt
            interrupted = True
            for connection in list(OPEN_CONNECTIONS):
                connection.abort()
            if task is not None:
                task.cancel()

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_interrupt)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
        return await main

    try:
        result = asyncio.run(guarded())
    except BaseException:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    if interrupted:
        raise KeyboardInterrupt
    return result
