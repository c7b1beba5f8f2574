"""onnxruntime's static quantiser on ranges already calibrated (a calibration cache)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.onnxio import load_model, save_model
from mlpack.core.quiet import silenced
from mlpack.errors import BadInputError
from mlpack.quant.convgroups import name_nodes
from mlpack.quant.settings import CalibrationMethod, IntType, QuantFormat, QuantizeSettings

if TYPE_CHECKING:
    import onnx

PER_CHANNEL_OPSET = 13  # DequantizeLinear's axis, which per-channel scales need, came with opset 13


def quantize_on_ranges(model: Path, dst: Path, cache: Path, settings: QuantizeSettings) -> None:
    """onnxruntime's quantize_static on the cached ranges (a cache hit: it does not calibrate),
    on a copy it writes correctly where ``model`` needs one (see ``_quantisable``)."""
    from onnxruntime import quantization as q

    types = {IntType.U8: q.QuantType.QUInt8, IntType.S8: q.QuantType.QInt8}
    quant_format = q.QuantFormat.QDQ if settings.quant_format is QuantFormat.QDQ else q.QuantFormat.QOperator
    with tempfile.TemporaryDirectory(prefix="mlpack-qdq-", dir=Path(dst).parent) as workdir:
        source, kept_float = _quantisable(model, Path(workdir) / "quantisable.onnx", settings)
        try:
            with silenced():
                q.quantize_static(
                    str(source),
                    str(dst),
                    None,
                    quant_format=quant_format,
                    op_types_to_quantize=list(settings.op_types) if settings.op_types else None,
                    per_channel=settings.per_channel,
                    reduce_range=settings.reduce_range,
                    activation_type=types[settings.activation_type],
                    weight_type=types[settings.weight_type],
                    nodes_to_exclude=[*settings.exclude_nodes, *kept_float],
                    calibrate_method=getattr(q.CalibrationMethod, _ORT_METHODS[settings.calibration_method]),
                    calibration_cache_path=cache,
                )
        except ValueError as exc:  # onnxruntime's check of the type/format combination, among others
            raise BadInputError(f"static quantisation refused these settings: {exc}") from exc
    if settings.quant_format is QuantFormat.QDQ:
        written = load_model(dst, check=False)
        if drop_zero_points(written):
            save_model(written, dst)


def drop_zero_points(model: onnx.ModelProto) -> int:
    """Drop the zero points of DequantizeLinear nodes on stored integers (weights, biases) that are
    all 0 and of the stored type: that is the default, so the model computes exactly the same and
    onnxruntime fuses the same QLinearConv. onnxruntime writes them per channel, and a bias's int32
    zeros take as many bytes as the bias: 0.308 of FP32 became 0.295 on a MobileNetV2. Returns how
    many zero-point tensors were dropped."""
    from onnx import numpy_helper

    stored = {init.name: init for init in model.graph.initializer}
    dropped: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) != 3 or node.input[0] not in stored:
            continue
        zero = stored.get(node.input[2])
        if zero is None or zero.data_type != stored[node.input[0]].data_type or numpy_helper.to_array(zero).any():
            continue
        dropped.add(node.input.pop())
    # A subgraph may read an initializer of this graph by name: then every one is kept.
    if dropped and not any(attr.g.node or attr.graphs for node in model.graph.node for attr in node.attribute):
        read = {name for node in model.graph.node for name in node.input} | {o.name for o in model.graph.output}
        kept = [init for init in model.graph.initializer if init.name in read or init.name not in dropped]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
    return len(dropped)


def _quantisable(model: Path, copy: Path, settings: QuantizeSettings) -> tuple[Path, tuple[str, ...]]:
    """``model``, or a copy at ``copy``, that onnxruntime's static quantiser writes correctly, and
    the nodes it must leave float for that.

    - Per-channel scales need DequantizeLinear's ``axis`` (opset 13): below it onnxruntime writes
      bias and weight scales no runtime loads, so the copy is converted to opset 13.
    - onnxruntime gives a Relu's or Clip's input the activation's own range where only it reads
      that input, though the input is also a graph output: that output would lose its negative
      values. Such an activation stays float (the copy names every unnamed node).
    """
    import onnx

    loaded = onnx.load(str(model), load_external_data=False)
    convert = settings.per_channel and _opset(loaded) < PER_CHANNEL_OPSET
    if not convert and all(node.name for node in _clipping(loaded)):
        return model, tuple(node.name for node in _clipping(loaded))
    loaded = onnx.load(str(model))
    name_nodes(loaded)
    if convert:
        loaded = at_per_channel_opset(loaded)
    return save_model(loaded, copy), tuple(node.name for node in _clipping(loaded))


def at_per_channel_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` itself where its opset has DequantizeLinear's ``axis`` (13), else a converted copy.

    Raises:
        BadInputError: the converter cannot convert one of its ops.
    """
    import onnx

    opset = _opset(model)
    if opset >= PER_CHANNEL_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, PER_CHANNEL_OPSET)
    except Exception as exc:  # the converter raises bare RuntimeErrors for ops it cannot convert
        raise BadInputError(
            f"static INT8 with per-channel weights needs opset {PER_CHANNEL_OPSET}, and this opset-{opset} "
            f"model could not be converted: {(str(exc).splitlines() or [type(exc).__name__])[0]}",
            hint=f"Re-export it at opset {PER_CHANNEL_OPSET} or later, or pass --no-per-channel.",
        ) from exc


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), PER_CHANNEL_OPSET)


def _clipping(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The Relu and Clip nodes that read a graph output."""
    outputs = {o.name for o in model.graph.output}
    return [n for n in model.graph.node if n.op_type in ("Relu", "Clip") and n.input and n.input[0] in outputs]


# The cache records its method, and onnxruntime refuses a cache made by another one.
_ORT_METHODS = {
    CalibrationMethod.MINMAX: "MinMax",
    CalibrationMethod.ENTROPY: "Entropy",
    CalibrationMethod.PERCENTILE: "Percentile",
}
