"""The exporters ``mlpack export --exporter`` offers: a leaf with no imports, so that ``mlpack --help``
builds its options without the exporter (:mod:`mlpack.exporter.export` re-exports it).
"""

from __future__ import annotations

from enum import Enum


class Exporter(str, Enum):
    AUTO = "auto"  # the current (dynamo) exporter, falling back to the TorchScript one
    DYNAMO = "dynamo"
    TORCHSCRIPT = "torchscript"
