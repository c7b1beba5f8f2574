"""What ``mlpack tune --objective`` optimises: a leaf with no imports, so that ``mlpack --help`` builds
its options without the pipeline (:mod:`mlpack.pipeline.tune_settings` re-exports it).
"""

from __future__ import annotations

from enum import Enum


class Objective(str, Enum):
    LATENCY = "latency"  # the lowest p50 latency, measured interleaved (the front's latency)
    SIZE = "size"  # the smallest file
