"""mlpack's version: one source, the installed distribution's metadata."""

from __future__ import annotations

import functools


@functools.cache
def mlpack_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlpack-edge")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
