"""Where the .mlpack code used to live, kept for the callers outside the artifact stage that import from here.

The code is in :mod:`~mlpack.artifact.manifest`, :mod:`~mlpack.artifact.pack`,
:mod:`~mlpack.artifact.verify` and :mod:`~mlpack.artifact.run`: import from those.
"""

from __future__ import annotations

from mlpack.artifact.pack import pack
from mlpack.artifact.verify import verify

__all__ = ["pack", "verify"]
