"""Running the user's code (a factory, the module that defines it, a pickle's classes) under a guard.

User code may call ``sys.exit``, raise ``KeyboardInterrupt`` or anything else while it is imported or
called. Left alone, ``sys.exit(0)`` ends mlpack with success and nothing written (a build "passes"
with an empty output folder), and ``sys.exit(3)`` reads as "inconclusive". Under the guard each
becomes one :class:`BadInputError` naming the code that did it, so every command (``export``,
``build``) reports it the same way and exits 2.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

from mlpack.core.signals import Terminated
from mlpack.errors import BadInputError, MlpackError
from mlpack.exporter.causes import cause_text

T = TypeVar("T")


def guarded(what: str, call: Callable[[], T]) -> T:
    """``call()``, with anything it raises or exits with turned into one clean error naming ``what``.

    Args:
        what: the user code, as the message should name it ("calling model.py:build()").
        call: runs the user code.

    Raises:
        BadInputError: the code raised, called ``sys.exit`` or raised ``KeyboardInterrupt`` (exit 2).
            An ``MlpackError`` raised inside (mlpack called back) passes through unchanged.
    """
    try:
        with warnings.catch_warnings():
            # Library warnings from the user's code (torch's UserWarnings) are not mlpack's to print.
            warnings.simplefilter("ignore")
            return call()
    except (MlpackError, Terminated):  # mlpack's own errors, and a real SIGTERM, pass through
        raise
    except SystemExit as exc:
        raise BadInputError(
            f"{what} called sys.exit({exc.code!r}); user code must return (a factory returns an nn.Module), not exit."
        ) from None
    except KeyboardInterrupt:
        raise BadInputError(f"{what} raised KeyboardInterrupt; user code must return, not interrupt.") from None
    except BaseException as exc:
        text, kind = cause_text(exc), type(exc).__name__
        raise BadInputError(f"{what} failed: {kind}{': ' + text if text != kind else ''}") from exc
