"""The choices the CLI offers for quantisation: a leaf with no imports, so that ``mlpack --help``
builds its options without importing a stage (:mod:`mlpack.quant.settings` re-exports them).
"""

from __future__ import annotations

from enum import Enum


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
