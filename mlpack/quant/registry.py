"""The one registry of quantisers: the CLI's ``--quantize`` choices and the pipeline both read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mlpack.core.fidelity import Tolerance


class QuantMode(str, Enum):
    NONE = "none"
    DYNAMIC = "dynamic"  # INT8 weights, activations quantised at run time
    STATIC = "static"  # INT8 weights and activations, ranges calibrated on data
    FP16 = "fp16"  # FP16 weights and compute, float32 inputs and outputs


class CalibrationMethod(str, Enum):
    MINMAX = "minmax"
    ENTROPY = "entropy"
    PERCENTILE = "percentile"


class QuantFormat(str, Enum):
    QDQ = "qdq"  # QuantizeLinear/DequantizeLinear pairs around float ops: portable, debuggable
    QOPERATOR = "qoperator"  # fused integer operators (QLinearConv, QLinearMatMul)


class IntType(str, Enum):
    U8 = "u8"
    S8 = "s8"


@dataclass(frozen=True)
class QuantizeSettings:
    per_channel: bool = True
    # None means the quantiser's own default op types (where quantisation pays on a CPU).
    op_types: tuple[str, ...] | None = None
    exclude_nodes: tuple[str, ...] = ()  # nodes kept in float (accuracy-aware quantisation)
    # static INT8 only
    calibration: Path | None = None
    calibration_method: CalibrationMethod = CalibrationMethod.MINMAX
    calibration_batch: int = 32
    calibration_limit: int | None = None  # at most this many samples
    calibration_cache: Path | None = None  # ranges computed once, reused by accuracy-aware rounds
    quant_format: QuantFormat = QuantFormat.QDQ
    activation_type: IntType = IntType.U8
    weight_type: IntType = IntType.S8


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
