"""Ctrl-C stops device jobs even where a library swallows asyncio's cancellation."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from mlpack.remote.interrupt import OPEN_CONNECTIONS, run_interruptibly


class _Connection:
    """Stands in for an SSH connection: ``abort`` breaks the transfer waiting on it."""

    def __init__(self) -> None:
        self.broken = asyncio.Event()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.broken.set()


async def _stubborn_transfer(connection: _Connection) -> str:
    """A transfer that swallows a cancellation (as a library mid-transfer can) and only stops
    when its connection breaks."""
    OPEN_CONNECTIONS.add(connection)
    try:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, once the transfer runs
        while not connection.broken.is_set():
            try:
                await connection.broken.wait()
            except asyncio.CancelledError:
                pass  # swallowed: asyncio's one cancellation alone would leave this running
        raise ConnectionError("connection lost")
    finally:
        OPEN_CONNECTIONS.discard(connection)


def test_ctrl_c_aborts_the_connections_and_raises_keyboard_interrupt() -> None:
    connection = _Connection()
    with pytest.raises(KeyboardInterrupt):
        run_interruptibly(_stubborn_transfer(connection))
    assert connection.aborted and not OPEN_CONNECTIONS
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is Python's again


def test_without_ctrl_c_the_result_comes_back() -> None:
    async def job() -> int:
        return 7

    assert run_interruptibly(job()) == 7
