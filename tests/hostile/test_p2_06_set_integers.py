"""Second probe, item 6: ``--set`` for an integer input takes whole numbers in the dtype's range only:
a 24-digit value and ``1.5`` are refused (exit 2), never wrapped or truncated."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.helpers.hostile import refused, succeeds


def int_input_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["n"], ["m"])],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("n", TensorProto.INT32, []),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("m", TensorProto.INT32, []),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize(
    "value", ["1.5", "123456789012345678901234", "3000000000", "-3000000000", "true", "[1.5]", "1e400", "NaN"]
)
def test_bad_integer_refused(tmp_path: Path, value: str) -> None:
    model = int_input_model(tmp_path / "m.onnx")
    refused(["optimize", model, "-o", tmp_path / "o.onnx", "--no-simplify", "--set", f"n={value}"], says="--set")
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("value", ["7", "2.0", "-2147483648"])
def test_whole_numbers_accepted(tmp_path: Path, value: str) -> None:
    model = int_input_model(tmp_path / "m.onnx")
    succeeds(["optimize", model, "-o", tmp_path / "o.onnx", "--no-simplify", "--set", f"n={value}"])
