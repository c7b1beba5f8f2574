"""Static INT8: weights and activations, activation ranges calibrated on data."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.quiet import silenced
from mlpack.quant.passes import ModelPass, PassContext, PassLog
from mlpack.quant.preprocess import preprocess
from mlpack.quant.registry import (
    CalibrationMethod,
    IntType,
    QuantFormat,
    QuantizeSettings,
    QuantMode,
    register_quantizer,
)


def quantize_static(src: Path, dst: Path, settings: QuantizeSettings, log: PassLog) -> None:
    """onnxruntime's static quantiser, calibrated on ``settings.calibration`` streamed in batches."""
    import onnx
    from onnxruntime import quantization as q

    from mlpack.core.signature import signature_of
    from mlpack.errors import BadInputError
    from mlpack.quant.calibration import NpzCalibrationReader

    if settings.calibration is None:
        raise BadInputError(
            "static INT8 needs calibration data: pass --calibration calib.npz with a few hundred "
            "representative samples of the model's inputs (arrays named by input)."
        )
    specs = signature_of(onnx.load(str(src), load_external_data=False)).inputs
    reader = NpzCalibrationReader(
        settings.calibration, specs, batch_size=settings.calibration_batch, limit=settings.calibration_limit
    )
    methods = {
        CalibrationMethod.MINMAX: q.CalibrationMethod.MinMax,
        CalibrationMethod.ENTROPY: q.CalibrationMethod.Entropy,
        CalibrationMethod.PERCENTILE: q.CalibrationMethod.Percentile,
    }
    types = {IntType.U8: q.QuantType.QUInt8, IntType.S8: q.QuantType.QInt8}
    with tempfile.TemporaryDirectory(prefix="mlpack-quant-") as workdir:
        prepared = preprocess(src, Path(workdir) / "pre.onnx", log)
        try:
            with silenced():
                q.quantize_static(
                    str(prepared),
                    str(dst),
                    reader,
                    quant_format=q.QuantFormat.QDQ
                    if settings.quant_format is QuantFormat.QDQ
                    else q.QuantFormat.QOperator,
                    op_types_to_quantize=list(settings.op_types) if settings.op_types else None,
                    per_channel=settings.per_channel,
                    activation_type=types[settings.activation_type],
                    weight_type=types[settings.weight_type],
                    nodes_to_exclude=list(settings.exclude_nodes),
                    calibrate_method=methods[settings.calibration_method],
                    # One batch per collection round: the calibrator then never holds more than
                    # one batch of activations (CalibStridedMinMax strides any calibrator).
                    extra_options={"CalibStridedMinMax": 1},
                    calibration_cache_path=settings.calibration_cache,
                )
        except ValueError as exc:  # onnxruntime's check of the type/format combination, among others
            raise BadInputError(f"static quantisation refused these settings: {exc}") from exc
    log.steps.append(
        f"static INT8 ({settings.quant_format.value.upper()}, {settings.calibration_method.value} calibration on "
        f"{reader.samples} samples in batches of {settings.calibration_batch}, activations "
        f"{settings.activation_type.value.upper()}, weights {settings.weight_type.value.upper()}"
        f"{', per-channel' if settings.per_channel else ''})"
        + (f", {len(settings.exclude_nodes)} nodes kept in float" if settings.exclude_nodes else "")
    )


@register_quantizer(
    QuantMode.STATIC,
    tolerance=Tolerance(atol=None, min_cosine=0.98),
    description="INT8 weights and activations, activation ranges calibrated on data",
)
class StaticInt8(ModelPass):
    name = "static INT8"

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        quantize_static(model, output, context.settings, context.log)
        return True
