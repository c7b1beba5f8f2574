"""Progress for a CI log: plain lines on stderr, one when the step changes and one at least every
:data:`EVERY` seconds while a step runs (benchmark_app's ``-stream_output``; a silent job looks hung).

A terminal gets rich's bar instead (:func:`mlpack.cli.common.progress`); a log has no bar to redraw.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

# Under the 10 s a reader of a CI log waits before wondering whether the job hangs.
EVERY = 9.0


class _Stop(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...


class ProgressLines:
    """``update(what, fraction)`` writes a line when ``what`` changes; :meth:`due` and :meth:`tick`
    let a ticker write one when nothing was written for :data:`EVERY` seconds."""

    def __init__(
        self, write: Callable[[str], None], *, clock: Callable[[], float] = time.monotonic, every: float = EVERY
    ) -> None:
        self._write, self._clock, self._every = write, clock, every
        self._lock = threading.Lock()
        self._started = self._last = clock()
        self._what: str | None = None
        self._fraction = 0.0

    def update(self, what: str, fraction: float) -> None:
        with self._lock:
            changed = what != self._what
            self._what, self._fraction = what, fraction
            if changed:
                self._line()

    def due(self) -> float:
        """Seconds until the next line is owed."""
        return max(0.0, self._last + self._every - self._clock())

    def tick(self) -> None:
        with self._lock:
            if self._what is not None and self._clock() - self._last >= self._every:
                self._line()

    def _line(self) -> None:
        now = self._clock()
        done = f" ({self._fraction:.0%})" if 0 < self._fraction < 1 else ""
        self._write(f"[{now - self._started:5.0f} s] {self._what}{done}")
        self._last = now

    def run(self, stop: _Stop) -> None:
        """Tick until ``stop`` is set: the ticker thread's loop."""
        while not stop.wait(self.due()):
            self.tick()


@contextlib.contextmanager
def progress_lines(write: Callable[[str], None], what: str) -> Iterator[Callable[[str, float], None]]:
    """``update(what, fraction)`` for the block, with a ticker thread that keeps the log alive."""
    lines = ProgressLines(write)
    lines.update(what, 0.0)
    stop = threading.Event()
    ticker = threading.Thread(target=lines.run, args=(stop,), name="mlpack-progress", daemon=True)
    ticker.start()
    try:
        yield lines.update
    finally:
        stop.set()
        ticker.join()
