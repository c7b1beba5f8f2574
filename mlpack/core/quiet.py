"""Silencing the libraries mlpack drives: they print progress, warnings and log lines freely,
and mlpack reports results itself (and `--json -` must leave stdout to the JSON)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def silenced(*logger_names: str) -> Iterator[None]:
    """Swallow stdout, stderr and warnings, and raise the named loggers (default: root) to ERROR."""
    loggers = [logging.getLogger(name) for name in logger_names] or [logging.getLogger()]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
