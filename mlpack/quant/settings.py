"""The choices a quantiser takes: modes, calibration, formats, and one settings object.

A leaf: the CLI's ``--quantize`` options, the typed config and every pass read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.quant.choices import CalibrationMethod, IntType, QuantFormat, QuantMode

__all__ = [
    "LOSSLESS_TOLERANCE",
    "CalibrationMethod",
    "IntType",
    "QuantFormat",
    "QuantMode",
    "QuantizeSettings",
]


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
    # Bytes of activations calibration may hold at once (caps the batch); every mode also keeps only
    # the --data samples that fit it with their outputs, to verify on (mlpack.data.bounded).
    calibration_memory: int = 1 << 30
    calibration_limit: int | None = None  # at most this many samples
    calibration_cache: Path | None = None  # ranges computed once, reused by accuracy-aware rounds
    quant_format: QuantFormat = QuantFormat.QDQ
    activation_type: IntType = IntType.U8
    weight_type: IntType = IntType.S8
    reduce_range: bool = False  # 7-bit weights: AVX2 without VNNI saturates 8-bit products (onnxruntime's guidance)
    # weights at rest (weights, int4, auto; embedding tables in dynamic mode)
    block_size: int | None = None  # None: per tensor, per-channel unless blocks are much closer; 0: per-channel
    min_weight_elements: int = 1024  # smaller tensors are not worth their restore nodes
    int4_block_size: int = 32
    embeddings_at_rest: bool = True  # dynamic mode: Gather tables stored as INT8 at rest


# Simplification alone must be numerically exact up to float re-association.
LOSSLESS_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-3, min_cosine=0.9999)
