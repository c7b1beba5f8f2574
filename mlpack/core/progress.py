"""The progress callback every long-running stage accepts: ``progress(what, fraction_done)``."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float], None]
