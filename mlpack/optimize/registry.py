"""The one registry of quantisers: the CLI's ``--quantize`` choices and the pipeline both read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mlpack.fidelity import Tolerance


class QuantMode(str, Enum):
    NONE = "none"
    DYNAMIC = "dynamic"  # INT8 weights, activations quantised at run time
    FP16 = "fp16"  # FP16 weights and compute, float32 inputs and outputs


@dataclass(frozen=True)
class QuantizeSettings:
    per_channel: bool = True
    # None means the quantiser's own default op types (where quantisation pays on a CPU).
    op_types: tuple[str, ...] | None = None


@dataclass
class QuantizeLog:
    """What a quantiser did beyond the obvious, for the report: degraded steps, skipped ops."""

    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Quantizer = Callable[[Path, Path, QuantizeSettings, QuantizeLog], None]


@dataclass(frozen=True)
class QuantizerEntry:
    mode: QuantMode
    run: Quantizer
    tolerance: Tolerance  # the default fail-closed check for this mode's outputs
    description: str


QUANTIZERS: dict[QuantMode, QuantizerEntry] = {}


def register_quantizer(mode: QuantMode, *, tolerance: Tolerance, description: str) -> Callable[[Quantizer], Quantizer]:
    def decorate(fn: Quantizer) -> Quantizer:
        if mode in QUANTIZERS:
            raise RuntimeError(f"quantiser for {mode.value} registered twice")
        QUANTIZERS[mode] = QuantizerEntry(mode, fn, tolerance, description)
        return fn

    return decorate


# Simplification alone must be numerically exact up to float re-association.
LOSSLESS_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999)


def default_tolerance(mode: QuantMode) -> Tolerance:
    if mode is QuantMode.NONE:
        return LOSSLESS_TOLERANCE
    return QUANTIZERS[mode].tolerance
