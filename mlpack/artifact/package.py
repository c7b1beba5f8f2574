"""Where the .mlpack code used to live, kept for the callers outside the artifact stage that import from here.

The code is in :mod:`~mlpack.artifact.manifest`, :mod:`~mlpack.artifact.pack`,
:mod:`~mlpack.artifact.verify` and :mod:`~mlpack.artifact.run`: import from those.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlpack.artifact.pack import pack
from mlpack.artifact.verify import verify

__all__ = ["pack", "sha256_file", "verify"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
