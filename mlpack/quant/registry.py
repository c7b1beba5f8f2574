"""The one registry of quantisers: the CLI's ``--quantize`` choices and the pipeline both read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.fidelity import Tolerance

if TYPE_CHECKING:
    from mlpack.quant.passes import ModelPass


class QuantMode(str, Enum):
    NONE = "none"
    DYNAMIC = "dynamic"  # INT8 weights, activations quantised at run time
    STATIC = "static"  # INT8 weights and activations, ranges calibrated on data
    FP16 = "fp16"  # FP16 weights and compute, float32 inputs and outputs
    WEIGHTS = "weights"  # INT8 weights at rest, restored to FP32 when the session loads: smaller, as fast
    INT4 = "int4"  # 4-bit block-wise MatMul weights (MatMulNBits), the other weights at rest
    AUTO = "auto"  # per tensor, the smallest representation that keeps the outputs and is not slower


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
    calibration_memory: int = 1 << 30  # bytes of activations calibration may hold at once (caps the batch)
    calibration_limit: int | None = None  # at most this many samples
    calibration_cache: Path | None = None  # ranges computed once, reused by accuracy-aware rounds
    quant_format: QuantFormat = QuantFormat.QDQ
    activation_type: IntType = IntType.U8
    weight_type: IntType = IntType.S8
    # weights at rest (weights, int4, auto; embedding tables in dynamic mode)
    block_size: int | None = None  # None: per tensor, per-channel unless blocks are much closer; 0: per-channel
    min_weight_elements: int = 1024  # smaller tensors are not worth their restore nodes
    int4_block_size: int = 32
    embeddings_at_rest: bool = True  # dynamic mode: Gather tables stored as INT8 at rest


@dataclass(frozen=True)
class QuantizerEntry:
    mode: QuantMode
    make: Callable[[], ModelPass]  # the pass that quantises in this mode
    tolerance: Tolerance  # the default fail-closed check for this mode's outputs
    description: str


PassFactory = Callable[[], "ModelPass"]
_QUANTIZERS: dict[QuantMode, QuantizerEntry] = {}


def register_quantizer(
    mode: QuantMode, *, tolerance: Tolerance, description: str
) -> Callable[[PassFactory], PassFactory]:
    """Class decorator: the pass that implements ``--quantize MODE``."""

    def decorate(cls: PassFactory) -> PassFactory:
        if mode in _QUANTIZERS:
            raise RuntimeError(f"quantiser for {mode.value} registered twice")
        _QUANTIZERS[mode] = QuantizerEntry(mode, cls, tolerance, description)
        return cls

    return decorate


def quantizers() -> dict[QuantMode, QuantizerEntry]:
    """Every registered quantiser; importing their modules fills the registry."""
    import mlpack.quant.quantizers  # noqa: F401

    return dict(_QUANTIZERS)


# Simplification alone must be numerically exact up to float re-association.
LOSSLESS_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999)


def default_tolerance(mode: QuantMode) -> Tolerance:
    """The fail-closed check a mode is held to unless the user states another."""
    if mode is QuantMode.NONE:
        return LOSSLESS_TOLERANCE
    return quantizers()[mode].tolerance
