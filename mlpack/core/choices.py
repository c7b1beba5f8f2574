"""onnxruntime session choices the CLI offers: a leaf with no imports, so that ``mlpack --help``
builds its options cheaply (:mod:`mlpack.core.onnxio` re-exports them).
"""

from __future__ import annotations

from enum import Enum


class ExecutionMode(str, Enum):
    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"


class GraphOptimization(str, Enum):
    DISABLE = "disable"
    BASIC = "basic"
    EXTENDED = "extended"
    ALL = "all"
