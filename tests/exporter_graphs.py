"""Tiny ONNX graphs in the patterns real exporters write, built with onnx.helper (no exporter needed).

- tf2onnx: an NHWC input with a ``unk__N`` batch, a Transpose to NCHW, Conv weights in a Constant
  node in HWIO order behind a Transpose, a MatMul weight from a Constant's ``value_floats``
  reshaped, a Reshape with ``-1``.
- paddle2onnx: ``dim_value: -1`` for every open dimension, every weight a Constant node (some
  behind Identity), ``Reshape`` with ``0`` (copy) and ``-1``, a ``value_float`` scalar.
- control flow: a weight held in a Constant inside an If branch (a subgraph).
- QDQ: a model already quantised in the ONNX model zoo's QDQ pattern (INT8 weights, DequantizeLinear).

Every model carries ``metadata_props`` (a vocabulary, labels, a version) that applications read back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlpack.core.sizes import float32_tensor_bytes, size_breakdown

METADATA = {"vocabulary": "a,b,c", "labels": '["cat", "dog"]', "version": "1.2.3"}


def _const(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, f"{name}_value"))


def _weights(rng: np.random.Generator, *shape: int, scale: float = 0.2) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _save(graph: onnx.GraphProto, path: Path, *, opset: int = 13, producer: str = "") -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer)
    model.ir_version = 8
    helper.set_model_props(model, METADATA)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tf2onnx_style(path: Path, *, seed: int = 0, wide: int = 1) -> Path:
    """``wide`` multiplies the channels (the benchmarks' larger variants)."""
    rng = np.random.default_rng(seed)
    c1, c2, dense = 8 * wide, 16 * wide, 64 * wide
    w_hwio = _weights(rng, 3, 3, c1, c2)  # TF's kernel layout
    nodes = [
        helper.make_node("Transpose", ["input_1:0"], ["nchw"], perm=[0, 3, 1, 2]),
        _const("conv1_hwio", _weights(rng, 3, 3, 3, c1)),
        helper.make_node("Transpose", ["conv1_hwio"], ["conv1_w"], perm=[3, 2, 0, 1]),
        helper.make_node("Conv", ["nchw", "conv1_w"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        _const("conv2_hwio", w_hwio),
        helper.make_node("Transpose", ["conv2_hwio"], ["conv2_w"], perm=[3, 2, 0, 1]),
        _const("conv2_b", _weights(rng, c2)),
        helper.make_node("Conv", ["r1", "conv2_w", "conv2_b"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        _const("flat_shape", np.array([-1, c2], dtype=np.int64)),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node(
            "Constant", [], ["dense_flat"], value_floats=[float(v) for v in _weights(rng, c2 * dense).ravel()]
        ),
        _const("dense_shape", np.array([c2, dense], dtype=np.int64)),
        helper.make_node("Reshape", ["dense_flat", "dense_shape"], ["dense_w"]),
        helper.make_node("MatMul", ["flat", "dense_w"], ["d"]),
        _const("dense_b", _weights(rng, dense)),
        helper.make_node("Add", ["d", "dense_b"], ["Identity:0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tf2onnx",
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, ["unk__12", 16, 16, 3])],
        [helper.make_tensor_value_info("Identity:0", TensorProto.FLOAT, ["unk__13", dense])],
    )
    return _save(graph, path, producer="tf2onnx")


def paddle_style(path: Path, *, seed: int = 0, wide: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    c1, c2, fc = 16 * wide, 32 * wide, 64 * wide
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, -1, -1])
    y = helper.make_tensor_value_info("save_infer_model/scale_0.tmp_0", TensorProto.FLOAT, [-1, 10])
    nodes = [
        _const("conv2d_0.w_0", _weights(rng, c1, 3, 3, 3)),
        helper.make_node("Conv", ["x", "conv2d_0.w_0"], ["conv0"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["conv0"], ["relu0"]),
        _const("conv2d_1.w_0", _weights(rng, c2, c1, 3, 3, scale=0.1)),
        helper.make_node("Identity", ["conv2d_1.w_0"], ["conv2d_1.w_0_id"]),
        helper.make_node("Conv", ["relu0", "conv2d_1.w_0_id"], ["conv1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Constant", [], ["alpha"], value_float=0.5),
        helper.make_node("Mul", ["conv1", "alpha"], ["scaled"]),
        helper.make_node("Relu", ["scaled"], ["relu1"]),
        helper.make_node("ReduceMean", ["relu1"], ["pooled"], axes=[2, 3], keepdims=1),
        _const("reshape_shape", np.array([0, -1], dtype=np.int64)),  # 0: copy the batch
        helper.make_node("Reshape", ["pooled", "reshape_shape"], ["flat"]),
        _const("fc_0.w_0", _weights(rng, c2, fc)),
        helper.make_node("MatMul", ["flat", "fc_0.w_0"], ["fc0"]),
        helper.make_node("Relu", ["fc0"], ["fc0r"]),
        _const("fc_1.w_0", _weights(rng, fc, 10)),
        helper.make_node("MatMul", ["fc0r", "fc_1.w_0"], ["save_infer_model/scale_0.tmp_0"]),
    ]
    return _save(helper.make_graph(nodes, "paddle", [x], [y]), path, producer="PaddlePaddle")


def control_flow(path: Path, *, seed: int = 0, wide: int = 1) -> Path:
    """A MatMul weight held in a Constant inside each branch of an If (a subgraph)."""
    rng = np.random.default_rng(seed)
    width = 48 * wide

    def branch(name: str) -> onnx.GraphProto:
        return helper.make_graph(
            [
                _const(f"{name}_w", _weights(rng, 32, width)),
                helper.make_node("MatMul", ["x", f"{name}_w"], [f"{name}_y"]),
            ],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)],
        )

    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
        _const("zero", np.array(0.0, dtype=np.float32)),
        helper.make_node("Greater", ["total", "zero"], ["positive"]),
        helper.make_node("If", ["positive"], ["y"], then_branch=branch("then"), else_branch=branch("else")),
    ]
    graph = helper.make_graph(
        nodes,
        "control_flow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])],
    )
    return _save(graph, path)


def qdq_quantised(path: Path, *, seed: int = 0, wide: int = 1) -> Path:
    """A model zoo-style QDQ model: INT8 weights behind DequantizeLinear, activations Q/DQ'd."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (64, 32)).astype(np.int8)
    inits = [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(np.array(0.01, dtype=np.float32), "w_scale"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "w_zero"),
        numpy_helper.from_array(np.array(0.05, dtype=np.float32), "x_scale"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "x_zero"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"]),
        helper.make_node("MatMul", ["x_dq", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 32])],
        inits,
    )
    return _save(graph, path)


BUILDERS = {
    "tf2onnx": tf2onnx_style,
    "paddle": paddle_style,
    "control-flow": control_flow,
    "qdq": qdq_quantised,
}


def float_tensors(path: Path) -> int:
    """Bytes of float32 tensors of >= 1024 values anywhere in the file (initializers and Constants)."""
    return float32_tensor_bytes(onnx.load(str(path)))


def int8_limit(path: Path) -> int:
    """The INT8-at-rest limit: the file's size less 3/4 of its float tensors of >= 1024 values."""
    return size_breakdown(path).int8_at_rest_limit
