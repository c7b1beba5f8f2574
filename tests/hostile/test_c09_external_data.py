"""Class 9: an ONNX file whose external .data file is missing is a bad model (exit 2) that names the
missing file, in every command that loads models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.helpers.hostile import refused


@pytest.fixture
def orphan(tmp_path: Path) -> Path:
    weight = numpy_helper.from_array(np.ones((16, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    (tmp_path / "b.toml").write_text("[budget]\nmax_size_mb = 5\n")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "{m}"],
        ["optimize", "{m}", "-o", "{out}"],
        ["check", "{m}", "-b", "{budget}"],
        ["bench", "{m}", "--runs", "3", "--duration", "0.01"],
        ["pack", "{m}", "-o", "{out}"],
    ],
    ids=lambda a: a[0],
)
def test_missing_external_data(orphan: Path, args: list[str]) -> None:
    names = {"m": orphan, "out": orphan.parent / "out.bin", "budget": orphan.parent / "b.toml"}
    refused([a.format(**names) for a in args], says="ext.onnx.data")
    assert not (orphan.parent / "out.bin").exists()
