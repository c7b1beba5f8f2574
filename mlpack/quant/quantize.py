"""Quantisers, registered by mode. onnxruntime and its tools are imported only when one runs."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.quiet import silenced
from mlpack.quant.gemm import gemm_to_matmul_add
from mlpack.quant.registry import (
    CalibrationMethod,
    IntType,
    QuantFormat,
    QuantizeLog,
    QuantizeSettings,
    QuantMode,
    register_quantizer,
)

# Measured here: dynamic INT8 speeds up MatMul-heavy models (~2x on transformers) but makes
# ConvInteger paths 4-11x slower than float convolutions in onnxruntime on x86 CPUs, and can
# flip decisions of small conv+LSTM models. So by default only the ops where it pays.
DYNAMIC_DEFAULT_OP_TYPES = ("MatMul", "Attention", "LSTM", "Gemm")
# Normalisation stays float32 in FP16 mode: its variance loses precision in half floats, its
# weights are tiny, and onnxruntime 1.32's CPU provider crashed (SIGSEGV) creating a session for
# a transformer encoder whose LayerNormalization ran in FP16 (blocking it alone fixed that).
FP16_KEPT_FLOAT = ("LayerNormalization", "BatchNormalization", "InstanceNormalization", "GroupNormalization")
# What onnxruntime's dynamic quantiser turns quantised nodes into.
_DYNAMIC_INTEGER_OPS = ("MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger", "DynamicQuantizeLSTM", "QAttention")


def preprocess(src: Path, dst: Path, log: QuantizeLog) -> Path:
    """onnxruntime's quant_pre_process, degrading step by step instead of failing the run.

    Symbolic shape inference is known to crash on files from torch's dynamo exporter
    (``TypeError: object of type 'NoneType' has no len()``); without it the rest still helps.
    Returns the path of the best pre-processed model (``src`` itself if every step failed).
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    attempts = [
        ("full pre-processing", {}),
        ("pre-processing without symbolic shape inference", {"skip_symbolic_shape": True}),
        ("pre-processing with ONNX shape inference only", {"skip_symbolic_shape": True, "skip_optimization": True}),
    ]
    for label, options in attempts:
        try:
            with silenced():
                quant_pre_process(str(src), str(dst), **options)
        except Exception as exc:
            log.warnings.append(f"{label} failed ({type(exc).__name__}: {str(exc).strip()[:120]}); degrading")
            continue
        log.steps.append(label)
        return dst
    log.warnings.append("quantisation pre-processing skipped entirely")
    return src


@register_quantizer(
    QuantMode.DYNAMIC,
    tolerance=Tolerance(atol=None, min_cosine=0.99),
    description="INT8 weights, activations quantised at run time (MatMul/Gemm/Attention/LSTM)",
)
def quantize_dynamic(src: Path, dst: Path, settings: QuantizeSettings, log: QuantizeLog) -> None:
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    op_types = list(settings.op_types or DYNAMIC_DEFAULT_OP_TYPES)
    with tempfile.TemporaryDirectory(prefix="mlpack-quant-") as workdir:
        prepared = preprocess(src, Path(workdir) / "pre.onnx", log)
        model = onnx.load(str(prepared))
        if "Gemm" in op_types:
            # After pre-processing: its graph optimisation fuses MatMul+Add back into Gemm.
            count = gemm_to_matmul_add(model)
            if count:
                log.steps.append(f"{count} Gemm rewritten as MatMul+Add for the INT8 kernels")
            op_types = [t for t in op_types if t != "Gemm"] + (["MatMul"] if "MatMul" not in op_types else [])
        with silenced():
            ort_quantize_dynamic(
                model,
                str(dst),
                op_types_to_quantize=op_types,
                per_channel=settings.per_channel,
                nodes_to_exclude=list(settings.exclude_nodes),
                weight_type=QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True},
            )
    integer_ops = Counter(
        n.op_type for n in onnx.load(str(dst), load_external_data=False).graph.node if n.op_type in _DYNAMIC_INTEGER_OPS
    )
    done = ", ".join(f"{count} {op}" for op, count in sorted(integer_ops.items())) or "no node (nothing to quantise)"
    log.steps.append(f"dynamic INT8: {done} ({'per-channel' if settings.per_channel else 'per-tensor'} weights)")


@register_quantizer(
    QuantMode.STATIC,
    tolerance=Tolerance(atol=None, min_cosine=0.98),
    description="INT8 weights and activations, activation ranges calibrated on data",
)
def quantize_static(src: Path, dst: Path, settings: QuantizeSettings, log: QuantizeLog) -> None:
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
    QuantMode.FP16,
    tolerance=Tolerance(atol=None, min_cosine=0.999),
    description="FP16 weights and compute; float32 inputs and outputs",
)
def quantize_fp16(src: Path, dst: Path, settings: QuantizeSettings, log: QuantizeLog) -> None:
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = onnx.load(str(src))
    present = {n.op_type for n in model.graph.node}
    if settings.op_types is not None:
        op_block_list = sorted(present - set(settings.op_types))
    else:
        op_block_list = [*DEFAULT_OP_BLOCK_LIST, *FP16_KEPT_FLOAT]
    with silenced():
        converted = OnnxModel(convert_float_to_float16(model, keep_io_types=True, op_block_list=op_block_list))
        # The converter appends the input/output casts at the end of the node list, which
        # breaks the topological order that ONNX requires.
        converted.topological_sort()
    onnx.save_model(converted.model, str(dst))
    kept = sorted(present & set(op_block_list))
    log.steps.append(
        "FP16 weights and compute, float32 inputs and outputs"
        + (f"; kept in float32: {', '.join(kept)}" if kept else "")
    )
