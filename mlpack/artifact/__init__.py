"""The .mlpack artifact: pack, verify, run, its typed manifest, and safe archive extraction.

``pack()`` and ``verify()`` are reached as ``mlpack.pack`` / ``mlpack.verify`` (or from their
modules): bound here, they would shadow the modules of the same name.
"""

from mlpack.artifact.manifest import Manifest, is_package, read_manifest
from mlpack.artifact.opened import OpenedPackage
from mlpack.artifact.pack import PackResult
from mlpack.artifact.run import RunResult, run_package
from mlpack.artifact.verify import VerifyResult

__all__ = [
    "Manifest",
    "OpenedPackage",
    "PackResult",
    "RunResult",
    "VerifyResult",
    "is_package",
    "read_manifest",
    "run_package",
]
