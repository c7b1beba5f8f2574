"""Dimensions as exporters write them: -1 (Paddle), 0 (keras2onnx), an empty name, a symbol: all open."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from mlpack.core.batching import data_batch_axes, signature_batch_axes
from mlpack.core.modelinfo import inspect_model
from mlpack.core.signature import signature_of
from tests.exporter_graphs import paddle_style, tf2onnx_style


def _model_with_dims(*dims: object) -> object:
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1])
    for dim, written in zip(value.type.tensor_type.shape.dim, dims, strict=True):
        dim.Clear()
        if isinstance(written, int):
            dim.dim_value = written
        elif isinstance(written, str):
            dim.dim_param = written
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [value], [value])
    graph.output[0].name = "y"
    return helper.make_model(graph)


def test_minus_one_zero_and_empty_names_read_as_open_and_take_the_batch() -> None:
    for dims in ((-1, 3, -1), (0, 3, 0), ("", 3, "")):
        spec = signature_of(_model_with_dims(*dims)).inputs[0]
        assert spec.shape == (None, 3, None), dims
        assert signature_batch_axes((spec,)).axes == {"x": 0}
        found = data_batch_axes((spec,), {"x": np.zeros((5, 3, 7), np.float32)}, source="d.npz")
        assert found.axes == {"x": 0}


def test_inspect_reads_paddle_and_tf2onnx_graphs_batch_and_weights(tmp_path: Path) -> None:
    paddle = inspect_model(paddle_style(tmp_path / "p.onnx"))
    assert paddle.batch_axes == {"x": 0}
    assert paddle.signature.inputs[0].shape_text() == "[?, 3, ?, ?]"
    assert paddle.parameter_count > 7000  # every weight is in a Constant node
    tf = inspect_model(tf2onnx_style(tmp_path / "t.onnx"))
    assert tf.batch_axes == {"input_1:0": 0} and tf.parameter_count > 2400
