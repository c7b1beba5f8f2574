"""onnxruntime's static quantiser on ranges already calibrated (a calibration cache)."""

from __future__ import annotations

from pathlib import Path

from mlpack.core.quiet import silenced
from mlpack.errors import BadInputError
from mlpack.quant.settings import CalibrationMethod, IntType, QuantFormat, QuantizeSettings


def quantize_on_ranges(model: Path, dst: Path, cache: Path, settings: QuantizeSettings) -> None:
    """onnxruntime's quantize_static on the cached ranges (a cache hit: it does not calibrate)."""
    from onnxruntime import quantization as q

    types = {IntType.U8: q.QuantType.QUInt8, IntType.S8: q.QuantType.QInt8}
    try:
        with silenced():
            q.quantize_static(
                str(model),
                str(dst),
                None,
                quant_format=q.QuantFormat.QDQ if settings.quant_format is QuantFormat.QDQ else q.QuantFormat.QOperator,
                op_types_to_quantize=list(settings.op_types) if settings.op_types else None,
                per_channel=settings.per_channel,
                reduce_range=settings.reduce_range,
                activation_type=types[settings.activation_type],
                weight_type=types[settings.weight_type],
                nodes_to_exclude=list(settings.exclude_nodes),
                calibrate_method=getattr(q.CalibrationMethod, _ORT_METHODS[settings.calibration_method]),
                calibration_cache_path=cache,
            )
    except ValueError as exc:  # onnxruntime's check of the type/format combination, among others
        raise BadInputError(f"static quantisation refused these settings: {exc}") from exc


# The cache records its method, and onnxruntime refuses a cache made by another one.
_ORT_METHODS = {
    CalibrationMethod.MINMAX: "MinMax",
    CalibrationMethod.ENTROPY: "Entropy",
    CalibrationMethod.PERCENTILE: "Percentile",
}
