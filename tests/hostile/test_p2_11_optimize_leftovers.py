"""Second probe, item 11: optimize leaves nothing in the working directory: onnxruntime's
pre-processing (``<uuid>.data``, ``sym_shape_infer_temp.onnx``) runs inside a private folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.helpers.hostile import leftovers, succeeds


def _incomplete_shapes_model(path: Path) -> Path:
    """A model symbolic shape inference cannot finish (an op it does not know), so onnxruntime saves
    its partial result as sym_shape_infer_temp.onnx in the working directory."""
    import numpy as np
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Custom", ["h"], ["y"], domain="mlpack.test")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("mlpack.test", 1)])
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_nothing_left_in_the_working_directory(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    args = ["optimize", work / "m.onnx", "-o", work / "q.onnx", "--quantize", mode]
    # Enough calibration samples that agreement >= 0.99 can be shown at 95% confidence (issue 19).
    calibration = work / "calibration.npz"
    np.savez(calibration, x=np.random.default_rng(1).standard_normal((400, 16)).astype(np.float32))
    succeeds(args + (["--calibration", calibration] if mode == "static" else []))
    assert leftovers(cwd) == []


def test_preprocess_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpack.quant.passes import PassLog
    from mlpack.quant.preprocess import preprocess

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    model = _incomplete_shapes_model(tmp_path / "c.onnx")
    preprocess(model, tmp_path / "p.onnx", PassLog())
    assert leftovers(cwd) == []
